using System;
using System.Diagnostics;
using System.Linq;

namespace Wudao.GpuRunner.Bench;

/// <summary>Milliseconds per call of each timed run.</summary>
public sealed record Sample(double[] Ms)
{
    public double Median
    {
        get
        {
            var sorted = Ms.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }

    public double Min => Ms.Min();
}

/// <summary>
/// Wall-clock timing on an accelerator: warm-up calls first (kernel compilation, the JIT's tiers),
/// then each run ends with the accelerator's synchronisation, so the time is the work's, not the
/// launches'. A run repeats a short call <c>repeat</c> times before synchronising, so one host
/// round trip does not swamp a kernel of microseconds.
/// </summary>
public static class Timing
{
    public static Sample Measure(Action call, Action synchronize, int warmup, int runs, int repeat = 1)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(synchronize);
        for (var i = 0; i < warmup; i++)
        {
            call();
        }

        synchronize();
        var ms = new double[runs];
        for (var r = 0; r < runs; r++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < repeat; i++)
            {
                call();
            }

            synchronize();
            ms[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / repeat;
        }

        return new Sample(ms);
    }

    /// <summary>How often to repeat <paramref name="call"/> so one run lasts about <paramref name="targetMs"/> (from one synchronised call, after one warm-up).</summary>
    public static int RepeatFor(Action call, Action synchronize, double targetMs)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(synchronize);
        call();
        synchronize();
        var start = Stopwatch.GetTimestamp();
        call();
        synchronize();
        var once = Math.Max(Stopwatch.GetElapsedTime(start).TotalMilliseconds, 1e-3);
        return (int)Math.Clamp(Math.Ceiling(targetMs / once), 1, 1000);
    }
}
