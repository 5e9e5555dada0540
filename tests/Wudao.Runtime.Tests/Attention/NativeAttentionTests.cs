using System;
using System.Collections.Generic;
using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The native CPU attention kernel against the plain reference: output and log-sum-exp.</summary>
public sealed class NativeAttentionTests : IDisposable
{
    // More threads than cores, so items really run concurrently and finish out of order.
    private readonly CpuWorkers _workers = new(3);

    public static IEnumerable<object[]> Cases()
    {
        // heads, kv heads, dim, causal, rope, lengths
        foreach (var causal in new[] { true, false })
        {
            foreach (var rope in new[] { false, true })
            {
                yield return new object[] { 4, 4, 64, causal, rope, new[] { 1 } };
                yield return new object[] { 4, 4, 64, causal, rope, new[] { 7 } };
                yield return new object[] { 8, 2, 64, causal, rope, new[] { 33 } };
                yield return new object[] { 8, 1, 32, causal, rope, new[] { 130 } };
                yield return new object[] { 8, 2, 128, causal, rope, new[] { 5, 1, 64 } };
                yield return new object[] { 2, 1, 32, causal, rope, new[] { 64, 0, 65 } };
            }
        }

        // A large GQA group: one token's heads fill a query tile by themselves.
        yield return new object[] { 48, 1, 32, true, true, new[] { 9 } };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Native_matches_the_reference(int heads, int kvHeads, int dim, bool causal, bool rope, int[] lengths)
    {
        var c = new AttentionCase(heads, kvHeads, dim, lengths, seed: (heads * 31) + dim + lengths.Length);
        var shape = new AttentionShape(heads, kvHeads, dim, causal, rope);

        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: _workers);

        var expected = AttentionReference.Forward(heads, kvHeads, dim, causal, rope, c.Q, c.K, c.V, c.Offsets);
        var what = $"{shape} lengths {AttentionCase.Describe(lengths)}";
        Numerics.Close(expected.Output, c.Output, what: $"{what}: output");
        Numerics.Close(expected.Lse, c.Lse, what: $"{what}: lse");
    }

    [Fact]
    public void Rope_uses_the_given_positions()
    {
        var lengths = new[] { 20, 3 };
        var c = new AttentionCase(4, 2, 64, lengths, seed: 5);
        var positions = new int[c.Tokens];
        for (var t = 0; t < positions.Length; t++)
        {
            positions[t] = 100 + (3 * t);
        }

        var shape = new AttentionShape(4, 2, 64, causal: true, rope: true, ropeBase: 500f);
        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, positions, _workers);

        var expected = AttentionReference.Forward(4, 2, 64, true, true, c.Q, c.K, c.V, c.Offsets, positions, ropeBase: 500);
        Numerics.Close(expected.Output, c.Output, what: "explicit positions: output");
        Numerics.Close(expected.Lse, c.Lse, what: "explicit positions: lse");

        // The positions matter: the default ones give a different answer.
        var plain = AttentionReference.Forward(4, 2, 64, true, true, c.Q, c.K, c.V, c.Offsets, ropeBase: 500);
        Assert.Throws<Xunit.Sdk.XunitException>(() => Numerics.Close(plain.Output, c.Output));
    }

    [Fact]
    public void A_given_scale_replaces_one_over_sqrt_dim()
    {
        var c = new AttentionCase(2, 2, 32, new[] { 40 }, seed: 9);
        var shape = new AttentionShape(2, 2, 32, causal: true, scale: 0.5f);

        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: _workers);

        var expected = AttentionReference.Forward(2, 2, 32, true, false, c.Q, c.K, c.V, c.Offsets, scale: 0.5);
        Numerics.Close(expected.Output, c.Output, what: "scale 0.5: output");
        Numerics.Close(expected.Lse, c.Lse, what: "scale 0.5: lse");
    }

    [Theory]
    [InlineData(8)]
    [InlineData(40)]
    [InlineData(48)]
    [InlineData(80)]
    [InlineData(96)]
    [InlineData(128)]
    [InlineData(256)]
    public void Any_head_dim_that_is_a_multiple_of_8_has_an_emitted_kernel(int dim)
    {
        // 8 and 40 end on a half-width vector under AVX-512; 48 and 80 on 2- and 1-vector value
        // blocks; 256 is 4 blocks of 4 vectors. Two sequences, one across a key-tile boundary.
        var c = new AttentionCase(4, 2, dim, new[] { 70, 3 }, seed: 11 + dim);
        var shape = new AttentionShape(4, 2, dim, causal: true, rope: true);

        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: _workers);

        var expected = AttentionReference.Forward(4, 2, dim, true, true, c.Q, c.K, c.V, c.Offsets);
        Numerics.Close(expected.Output, c.Output, what: $"dim {dim}: output");
        Numerics.Close(expected.Lse, c.Lse, what: $"dim {dim}: lse");
    }

    [Fact]
    public void Results_do_not_depend_on_the_thread_count()
    {
        var c = new AttentionCase(8, 2, 64, new[] { 100, 37 }, seed: 13);
        var shape = new AttentionShape(8, 2, 64, causal: true, rope: true);
        using var one = new CpuWorkers(1);
        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: one);
        var single = (float[])c.Output.Clone();

        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: _workers);

        Assert.Equal(single, c.Output);
    }

    [Fact]
    public void Large_scores_do_not_overflow()
    {
        // Scores in the hundreds: a softmax without the running max would overflow e^x (fp32 tops
        // out at e^88). fp32 rounding of such scores is ~1e-5 absolute, which e^x turns into a
        // relative error of the weights: the tolerance on the output is looser for that reason.
        var c = new AttentionCase(2, 1, 64, new[] { 90 }, seed: 17);
        for (var i = 0; i < c.Q.Length; i++)
        {
            c.Q[i] *= 20f;
        }

        var shape = new AttentionShape(2, 1, 64, causal: true);
        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: _workers);

        var expected = AttentionReference.Forward(2, 1, 64, true, false, c.Q, c.K, c.V, c.Offsets);
        Numerics.Close(expected.Output, c.Output, rtol: 1e-3f, atol: 1e-4f, what: "large scores: output");
        Assert.Contains(c.Lse, x => x > 100f);
        Numerics.Close(expected.Lse, c.Lse, what: "large scores: lse");
    }

    public void Dispose() => _workers.Dispose();
}
