using System;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Wudao.Benchmarks;

/// <summary>
/// The machine's memory read bandwidth, measured: every thread sums its contiguous share of a buffer
/// far larger than the caches with four independent Vector512 accumulators (no stores).
/// </summary>
public static class MemoryRead
{
    public static float Sum(float[] buffer)
    {
        var threads = Environment.ProcessorCount;
        var share = buffer.Length / threads / 64 * 64;
        var sums = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => sums[t] = Share(buffer.AsSpan(t * share, share)));
        var total = 0f;
        foreach (var s in sums)
        {
            total += s;
        }

        return total;
    }

    private static float Share(ReadOnlySpan<float> part)
    {
        ref var p = ref MemoryMarshal.GetReference(part);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (nuint i = 0; i < (nuint)part.Length; i += 64)
        {
            a0 += Vector512.LoadUnsafe(ref p, i);
            a1 += Vector512.LoadUnsafe(ref p, i + 16);
            a2 += Vector512.LoadUnsafe(ref p, i + 32);
            a3 += Vector512.LoadUnsafe(ref p, i + 48);
        }

        return Vector512.Sum((a0 + a1) + (a2 + a3));
    }
}
