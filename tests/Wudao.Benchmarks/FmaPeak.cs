using System;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Wudao.Benchmarks;

/// <summary>
/// The machine's fp32 FMA peak, measured: on every thread, twelve independent Vector512 FMA
/// chains (enough to cover the FMA latency on both ports) with no memory traffic. Run for the
/// same FLOP count as a GEMM-bound row, its time over that row's time is the row's fraction of peak.
/// </summary>
public static class FmaPeak
{
    /// <summary>FLOPs of one inner step: 12 FMAs × 16 lanes × 2.</summary>
    private const int FlopsPerStep = 12 * 16 * 2;

    public static float Run(double flops)
    {
        var threads = Environment.ProcessorCount;
        var steps = (long)(flops / FlopsPerStep / threads);
        var sums = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sums[t] = Chains(steps, t));
        var total = 0f;
        foreach (var s in sums)
        {
            total += s;
        }

        return total;
    }

    private static float Chains(long steps, int seed)
    {
        var m = Vector512.Create(0.999999f);
        var a = Vector512.Create(1e-7f * (seed + 1));
        Vector512<float> x0 = Vector512.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
        Vector512<float> x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < steps; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, m, a);
            x1 = Vector512.FusedMultiplyAdd(x1, m, a);
            x2 = Vector512.FusedMultiplyAdd(x2, m, a);
            x3 = Vector512.FusedMultiplyAdd(x3, m, a);
            x4 = Vector512.FusedMultiplyAdd(x4, m, a);
            x5 = Vector512.FusedMultiplyAdd(x5, m, a);
            x6 = Vector512.FusedMultiplyAdd(x6, m, a);
            x7 = Vector512.FusedMultiplyAdd(x7, m, a);
            x8 = Vector512.FusedMultiplyAdd(x8, m, a);
            x9 = Vector512.FusedMultiplyAdd(x9, m, a);
            x10 = Vector512.FusedMultiplyAdd(x10, m, a);
            x11 = Vector512.FusedMultiplyAdd(x11, m, a);
        }

        // Returned, so the chains cannot be optimised away.
        return Vector512.Sum(((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11)));
    }
}
