using System;
using System.Linq;
using System.Text.RegularExpressions;
using Wudao.GpuRunner.Bench;
using Wudao.Runtime.Tests;
using Xunit;

namespace Wudao.GpuRunner.Tests;

/// <summary>
/// The benchmarks' own declarations compile to PTX for sm_90 (the lent H100 and H200) with their
/// static shared memory within the 48 KiB every CUDA device gives a group: checked here, with no
/// GPU, before any device time is spent on them.
/// </summary>
public sealed partial class BenchKernelTests
{
    private const int SharedLimit = 48 * 1024;

    public static TheoryData<Type> MoeLayers => new(typeof(MixtralLayer), typeof(SuiteLayer), typeof(QuickMixtralLayer), typeof(QuickSuiteLayer));

    [Theory]
    [MemberData(nameof(MoeLayers))]
    public void Moe_kernels_compile_to_ptx_within_the_shared_memory_limit(Type layer)
    {
        var kernels = Layers.Kernels(layer);

        Assert.Equal(new[] { "gate", "route", "dispatch", "expert_ffn", "combine" }, kernels.Select(k => k.Entry.Role));
        foreach (var (method, entry) in kernels)
        {
            var ptx = Ptx.Compile(method, entry.Grouped, 90);
            Assert.Contains(".entry", ptx, StringComparison.Ordinal);
            // Grouped kernels stage their tiles in shared memory; the others hold none.
            Assert.True(entry.Grouped ? SharedBytes(ptx) is > 0 and <= SharedLimit : SharedBytes(ptx) == 0, $"{layer.Name} {entry.Role}: {SharedBytes(ptx)} bytes of shared memory");
        }
    }

    [Fact]
    public void The_attention_kernel_compiles_to_ptx_within_the_shared_memory_limit()
    {
        var ptx = Ptx.Compile(typeof(Attention128.Ilgpu).GetMethod("Forward")!, grouped: true, 90);

        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.InRange(SharedBytes(ptx), 1, SharedLimit);
    }

    [Fact]
    public void Shared_memory_is_read_from_the_ptx_declarations()
    {
        const string ptx = ".shared .align 4 .b8 a[16384];\n.shared .align 16 .b8 b[1024];\n.global .b8 c[99];";

        Assert.Equal(17408, SharedBytes(ptx));
    }

    /// <summary>Bytes of the .shared arrays a PTX module declares (ILGPU declares them as .b8 arrays).</summary>
    private static int SharedBytes(string ptx) => SharedArray().Matches(ptx).Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));

    [GeneratedRegex(@"\.shared\s+(?:\.align\s+\d+\s+)?\.b8\s+[^\[\s]+\[(\d+)\]")]
    private static partial Regex SharedArray();
}
