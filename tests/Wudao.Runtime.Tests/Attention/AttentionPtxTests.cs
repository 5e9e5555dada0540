using System;
using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The attention kernels compile to PTX for sm_80 and sm_90 with no GPU (ILGPU's PTX backend).</summary>
public sealed class AttentionPtxTests
{
    [Theory]
    [InlineData(80, typeof(Attention16.Ilgpu))]
    [InlineData(90, typeof(Attention16.Ilgpu))]
    [InlineData(90, typeof(Attention256.Ilgpu))]
    public void Attention_kernel_compiles_to_ptx(int arch, Type kernel)
    {
        var ptx = Ptx.Compile(kernel.GetMethod("Forward")!, grouped: true, arch);

        // ILGPU 1.5.3 writes `.target sm_80` for the SM_90 request too (as for the MoE kernels in
        // PtxTests): the check is that the PTX path accepts the kernel for both capabilities.
        Assert.Contains(".target sm_", ptx, StringComparison.Ordinal);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        // Q, K, V and score tiles are staged in shared memory between group barriers.
        Assert.Contains(".shared", ptx, StringComparison.Ordinal);
        Assert.Contains("bar.sync", ptx, StringComparison.Ordinal);
        Assert.Contains("ex2.approx", ptx, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(80)]
    [InlineData(90)]
    public void Cache_append_kernel_compiles_to_ptx(int arch)
    {
        var ptx = Ptx.Compile(typeof(Attention16.Ilgpu).GetMethod("Append")!, grouped: true, arch);

        Assert.Contains(".target sm_", ptx, StringComparison.Ordinal);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        // RoPE on the way into the cache (the angle's sine and cosine), then the rows stored
        // (ILGPU addresses views generically: st.f32, not st.global.f32).
        Assert.Contains("sin.approx", ptx, StringComparison.Ordinal);
        Assert.Contains("cos.approx", ptx, StringComparison.Ordinal);
        Assert.Contains("st.f32", ptx, StringComparison.Ordinal);
        // No group barrier: each thread writes its own row.
        Assert.DoesNotContain("bar.sync", ptx, StringComparison.Ordinal);
    }
}
