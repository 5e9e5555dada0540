using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wudao;

/// <summary>
/// Host memory for weights the native kernels stream (packed GEMM panels). A decode step reads
/// every weight once, gigabytes a token: with 4 KiB pages each page costs a TLB miss, its page
/// walk misses the caches too once the page tables outgrow them, and the hardware prefetcher
/// stops at every page boundary. Linux maps such memory with 2 MiB pages when asked
/// (madvise(MADV_HUGEPAGE), honoured when transparent huge pages are "madvise" or "always").
/// The arrays are pinned, so the advised range never moves.
/// </summary>
public static class WeightMemory
{
    private const int MadvHugePage = 14;
    private const long HugePage = 2L << 20;

    /// <summary>Whether new weight arrays ask for huge pages (on Linux; elsewhere it does nothing). On by default.</summary>
    public static bool HugePages { get; set; } = true;

    /// <summary>A zeroed, pinned array of <paramref name="length"/> floats, its whole 2 MiB pages advised as huge pages.</summary>
    public static float[] Floats(long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (!HugePages || !OperatingSystem.IsLinux() || length * sizeof(float) < 2 * HugePage)
        {
            return new float[length];
        }

        // Uninitialised, so no page is touched before the advice; cleared after it, which faults
        // the advised pages in as huge ones.
        var array = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
        Advise(ref MemoryMarshal.GetArrayDataReference(array), length * sizeof(float));
        Array.Clear(array);
        return array;
    }

    private static unsafe void Advise(ref float first, long bytes)
    {
        var start = (long)Unsafe.AsPointer(ref first);
        var from = (start + HugePage - 1) & ~(HugePage - 1);
        var to = (start + bytes) & ~(HugePage - 1);
        if (to > from)
        {
            // Advice only: a kernel without transparent huge pages refuses it, and 4 KiB pages stay.
            _ = madvise((nint)from, (nuint)(to - from), MadvHugePage);
        }
    }

    [DllImport("libc", EntryPoint = "madvise")]
    private static extern int madvise(nint address, nuint length, int advice);
}
