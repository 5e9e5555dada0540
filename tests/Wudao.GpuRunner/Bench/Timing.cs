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
/// round trip does not swamp a kernel of microseconds. Within <c>budgetMs</c> a slow call gets
/// fewer warm-ups and runs (at least 3), as the last warm-up's time predicts: the benchmark phase
/// has a time limit, and a kernel far slower than hoped must not take the other rows with it.
/// </summary>
public static class Timing
{
    public static Sample Measure(Action call, Action synchronize, int warmup, int runs, int repeat = 1, double budgetMs = double.PositiveInfinity)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(synchronize);
        var estimate = 0.0;
        for (var i = 0; i < warmup; i++)
        {
            var begin = Stopwatch.GetTimestamp();
            call();
            synchronize();
            estimate = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
            if (i >= 1 && estimate * (runs * repeat) > budgetMs)
            {
                break;
            }
        }

        if (estimate > 0 && !double.IsPositiveInfinity(budgetMs))
        {
            runs = (int)Math.Clamp(Math.Floor(budgetMs / (estimate * repeat)), 3, runs);
        }

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
