using System;
using System.Collections.Generic;
using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The ILGPU attention kernel on the CPU accelerator, against the reference and the native kernel (tiny shapes).</summary>
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class IlgpuAttentionTests : IClassFixture<IlgpuAttentionFixture>
{
    private readonly IlgpuAttentionFixture _gpu;

    public IlgpuAttentionTests(IlgpuAttentionFixture gpu)
    {
        _gpu = gpu;
    }

    public static IEnumerable<object[]> Cases()
    {
        // heads, kv heads, dim, causal, rope, lengths
        foreach (var causal in new[] { true, false })
        {
            yield return new object[] { 2, 2, 8, causal, false, new[] { 1 } };
            yield return new object[] { 4, 2, 16, causal, true, new[] { 7 } };
            yield return new object[] { 4, 1, 8, causal, true, new[] { 5, 1, 17 } };
            yield return new object[] { 2, 1, 16, causal, false, new[] { 24, 0, 3 } };
        }

        // Head dims the emitted kernel sizes its shared memory for: 80, and 256 with 8-row tiles.
        yield return new object[] { 2, 1, 80, true, true, new[] { 9 } };
        yield return new object[] { 2, 1, 256, true, true, new[] { 19, 4 } };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Ilgpu_matches_the_reference(int heads, int kvHeads, int dim, bool causal, bool rope, int[] lengths)
    {
        var c = new AttentionCase(heads, kvHeads, dim, lengths, seed: heads + dim + lengths.Length);
        var shape = new AttentionShape(heads, kvHeads, dim, causal, rope);

        var (output, lse) = _gpu.Run(shape, c);

        var expected = AttentionReference.Forward(heads, kvHeads, dim, causal, rope, c.Q, c.K, c.V, c.Offsets);
        var what = $"ILGPU {shape} lengths {AttentionCase.Describe(lengths)}";
        Numerics.Close(expected.Output, output, what: $"{what}: output");
        Numerics.Close(expected.Lse, lse, what: $"{what}: lse");
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Ilgpu_matches_native(bool causal, bool rope)
    {
        var lengths = new[] { 5, 24, 1 };
        var c = new AttentionCase(4, 2, 32, lengths, seed: 40);
        var positions = new int[c.Tokens];
        for (var t = 0; t < positions.Length; t++)
        {
            positions[t] = 7 + (2 * t);
        }

        var shape = new AttentionShape(4, 2, 32, causal, rope);
        var (output, lse) = _gpu.Run(shape, c, positions);
        using var workers = new CpuWorkers(2);
        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, positions, workers);

        Numerics.Close(c.Output, output, what: $"{shape}: ILGPU vs native output");
        Numerics.Close(c.Lse, lse, what: $"{shape}: ILGPU vs native lse");
    }

    [Fact]
    public void Ilgpu_checks_its_arguments()
    {
        var c = new AttentionCase(2, 1, 8, new[] { 3 }, seed: 1);
        using var small = _gpu.Accelerator.Allocate1D<float>(1);
        using var big = _gpu.Accelerator.Allocate1D<float>(c.Q.Length);
        var shape = new AttentionShape(2, 1, 8);
        var e = Assert.Throws<ArgumentException>(() => _gpu.For(shape).Forward(shape, small.View, big.View, big.View, big.View, big.View, c.Offsets));
        Assert.Equal("q", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => _gpu.For(shape).Forward(new AttentionShape(1, 1, 16), big.View, big.View, big.View, big.View, big.View, c.Offsets));
        Assert.Contains("head dim is 16 but the ILGPU kernel was emitted for 8", e.Message, StringComparison.Ordinal);
    }
}
