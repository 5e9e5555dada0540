using System;
using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Wrong arguments fail with exceptions that say what is wrong.</summary>
public sealed class AttentionArgumentTests
{
    [Fact]
    public void Kv_heads_must_divide_heads()
    {
        var e = Assert.Throws<ArgumentException>(() => new AttentionShape(8, 3, 64));
        Assert.Contains("KvHeads (3)", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new AttentionShape(8, 0, 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttentionShape(0, 1, 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttentionShape(2, 1, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttentionShape(2, 1, 64, scale: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AttentionShape(2, 1, 64, rope: true, ropeBase: 0.5f));
    }

    [Fact]
    public void Scale_defaults_to_one_over_sqrt_dim()
    {
        Assert.Equal(0.125f, new AttentionShape(2, 1, 64).Scale);
        Assert.Equal(4, new AttentionShape(8, 2, 64).Group);
    }

    [Theory]
    [InlineData("q")]
    [InlineData("k")]
    [InlineData("v")]
    [InlineData("output")]
    [InlineData("lse")]
    public void Each_tensor_length_is_checked_by_name(string wrong)
    {
        var c = new AttentionCase(4, 2, 32, new[] { 5, 3 }, seed: 1);
        float[] Maybe(string name, float[] x) => name == wrong ? new float[x.Length - 1] : x;
        var shape = new AttentionShape(4, 2, 32);

        var e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(shape, Maybe("q", c.Q), Maybe("k", c.K), Maybe("v", c.V), Maybe("output", c.Output), Maybe("lse", c.Lse), c.Offsets));

        Assert.Equal(wrong, e.ParamName);
        Assert.Contains("[8, ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { 0 }, "B + 1")]
    [InlineData(new[] { 1, 8 }, "must be 0")]
    [InlineData(new[] { 0, 6, 5, 8 }, "decrease at sequence 1")]
    [InlineData(new[] { 0, 4, 9 }, "q holds")]
    public void Offsets_are_checked(int[] offsets, string message)
    {
        var c = new AttentionCase(4, 2, 32, new[] { 8 }, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(new AttentionShape(4, 2, 32), c.Q, c.K, c.V, c.Output, c.Lse, offsets));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Positions_are_one_per_token_and_non_negative()
    {
        var c = new AttentionCase(2, 1, 32, new[] { 4 }, seed: 1);
        var shape = new AttentionShape(2, 1, 32, rope: true);
        Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, new[] { 0, 1, 2 }));
        var e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, new[] { 0, 1, -2, 3 }));
        Assert.Contains("positions[2]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_refuses_a_shape_of_another_head_dim()
    {
        var c = new AttentionCase(2, 1, 48, new[] { 4 }, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => Attention64.Forward(new AttentionShape(2, 1, 48), c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets));
        Assert.Contains("head dim is 48 but the kernel Native was emitted for 64", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => NativeAttention.Forward<Attention64.Native>(new AttentionShape(2, 1, 48), new KvCache(1, 8, 1, 48), c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets));
    }

    [Fact]
    public void A_kernel_without_qk_norm_refuses_norm_weights()
    {
        var c = new AttentionCase(2, 1, 48, new[] { 4 }, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => NativeAttention.Forward<Attention48.Native>(new AttentionShape(2, 1, 48), c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, qNorm: new float[48], kNorm: new float[48]));
        Assert.Contains("emitted without qk_norm", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cache_must_match_the_shape_and_the_batch()
    {
        var c = new AttentionCase(4, 2, 32, new[] { 3, 2 }, seed: 1);
        var shape = new AttentionShape(4, 2, 32);
        Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(shape, new KvCache(2, 8, 1, 32), c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets));
        Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(shape, new KvCache(2, 8, 2, 64), c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets));
        var e = Assert.Throws<ArgumentException>(() => AttentionKernels.Forward(shape, new KvCache(3, 8, 2, 32), c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets));
        Assert.Contains("2 sequences", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(1, 0, 1, 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(1, 4, 1, 32).Length(1));
    }

    [Fact]
    public void An_empty_batch_does_nothing()
    {
        var shape = new AttentionShape(2, 1, 32);
        AttentionKernels.Forward(shape, ReadOnlySpan<float>.Empty, ReadOnlySpan<float>.Empty, ReadOnlySpan<float>.Empty, Span<float>.Empty, Span<float>.Empty, new[] { 0, 0 });
    }
}
