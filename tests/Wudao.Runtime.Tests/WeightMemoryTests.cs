using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Xunit;

namespace Wudao.Tests;

public class WeightMemoryTests
{
    [Fact]
    public void Weight_arrays_are_zeroed_and_of_the_asked_length()
    {
        foreach (var length in new long[] { 0, 17, 1 << 20, (5L << 20) + 3 })
        {
            var a = WeightMemory.Floats(length);
            Assert.Equal(length, a.LongLength);
            Assert.All(a, v => Assert.Equal(0f, v));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => WeightMemory.Floats(-1));
    }

    /// <summary>Where the kernel honours the advice, the array's whole 2 MiB pages are huge pages (from /proc/self/smaps).</summary>
    [Fact]
    public void Large_weight_arrays_get_huge_pages_where_the_kernel_offers_them()
    {
        const string setting = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!OperatingSystem.IsLinux() || !File.Exists(setting) || File.ReadAllText(setting).Contains("[never]", StringComparison.Ordinal))
        {
            // No transparent huge pages on this machine: 4 KiB pages are all there is to get.
            return;
        }

        var a = WeightMemory.Floats(16L << 20);
        var start = (ulong)Address(a);
        var end = start + ((ulong)a.Length * sizeof(float));
        var huge = HugeKiB(start, end);
        GC.KeepAlive(a);

        // 64 MiB hold at least 30 whole 2 MiB pages; allow the kernel to leave a few small.
        Assert.True(huge >= 20 * 2048, $"{huge} KiB of the 64 MiB weight array are in huge pages");
    }

    private static nint Address(float[] a)
    {
        var handle = GCHandle.Alloc(a, GCHandleType.Pinned);
        try
        {
            return handle.AddrOfPinnedObject();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>AnonHugePages of the mappings that overlap [start, end).</summary>
    private static long HugeKiB(ulong start, ulong end)
    {
        long total = 0;
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            // A mapping's header starts with its hex address range ("7f..-7f.. rw-p ..."); its fields follow.
            var range = line.Split(' ')[0];
            if (range.Contains('-', StringComparison.Ordinal) && range.All(c => c == '-' || Uri.IsHexDigit(c)))
            {
                var bounds = range.Split('-').Select(h => Convert.ToUInt64(h, 16)).ToArray();
                inside = bounds[0] < end && bounds[1] > start;
            }
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            {
                total += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
