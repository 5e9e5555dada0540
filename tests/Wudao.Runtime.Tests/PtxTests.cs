using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// Every emitted kernel compiles to PTX for sm_80 and sm_90 through ILGPU's PTX backend, which
/// needs no GPU: CI checks the CUDA path on a machine without one. (No ptxas here: the PTX is
/// produced and inspected, not assembled.)
/// </summary>
public sealed class PtxTests
{
    public static IEnumerable<object[]> Cases() =>
        from layer in Layers.All
        from k in Layers.Kernels(layer.Value.Type)
        from arch in new[] { 80, 90 }
        select new object[] { layer.Key, k.Entry.Role, arch };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Kernel_compiles_to_ptx(string layer, string role, int arch)
    {
        var (method, entry) = Layers.Kernels(Layers.All[layer].Type).Single(k => k.Entry.Role == role);

        var ptx = Ptx.Compile(method, entry.Grouped, arch);

        Assert.Contains(".target sm_", ptx, System.StringComparison.Ordinal);
        Assert.Contains(".entry", ptx, System.StringComparison.Ordinal);
        if (entry.Grouped)
        {
            // Grouped kernels stage data in shared memory and synchronise the group.
            Assert.Contains(".shared", ptx, System.StringComparison.Ordinal);
            Assert.Contains("bar.sync", ptx, System.StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_layer_has_the_five_planned_kernels()
    {
        foreach (var layer in Layers.All.Values)
        {
            Assert.Equal(new[] { "gate", "route", "dispatch", "expert_ffn", "combine" }, Layers.Kernels(layer.Type).Select(k => k.Entry.Role));
        }
    }
}
