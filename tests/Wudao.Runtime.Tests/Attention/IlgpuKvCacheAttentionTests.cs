using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// The ILGPU attention with its device KV cache, on the CPU accelerator (tiny shapes): prefill,
/// chunks and decode steps each equal to the matching rows of a full pass over every token so
/// far, the same as the native cached path, and overflow refused without a change.
/// </summary>
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class IlgpuKvCacheAttentionTests : IClassFixture<IlgpuAttentionFixture>
{
    private readonly IlgpuAttentionFixture _gpu;

    public IlgpuKvCacheAttentionTests(IlgpuAttentionFixture gpu)
    {
        _gpu = gpu;
    }

    [Theory]
    [InlineData(4, 2, 16, true, true)]
    [InlineData(4, 2, 16, true, false)]
    [InlineData(2, 1, 8, false, true)]
    public void Decode_steps_equal_a_full_recompute(int heads, int kvHeads, int dim, bool causal, bool rope)
    {
        // 18 prompt tokens: two query tiles and two key tiles, the second partial.
        const int Prompt = 18;
        const int Steps = 4;
        var c = new AttentionCase(heads, kvHeads, dim, new[] { Prompt + Steps }, seed: heads + dim);
        var shape = new AttentionShape(heads, kvHeads, dim, causal, rope);
        using var cache = new IlgpuKvCache(_gpu.Accelerator, 1, capacity: 24, kvHeads, dim);

        var (output, lse) = Step(shape, cache, new[] { c }, new[] { Prompt });

        Assert.Equal(Prompt, cache.Length(0));
        var full = AttentionReference.Prefix(c, Prompt, causal, rope);
        Numerics.Close(full.Output, output, what: $"{shape} prefill: output");
        Numerics.Close(full.Lse, lse, what: $"{shape} prefill: lse");
        for (var step = 0; step < Steps; step++)
        {
            (output, lse) = Step(shape, cache, new[] { c }, new[] { 1 });

            var n = Prompt + step + 1;
            Assert.Equal(n, cache.Length(0));
            full = AttentionReference.Prefix(c, n, causal, rope);
            var what = $"{shape} decode step {step} ({n} tokens)";
            Numerics.Close(AttentionCase.Rows(full.Output, n - 1, n, heads, dim), output, what: $"{what}: output");
            Numerics.Close(AttentionCase.Rows(full.Lse, n - 1, n, heads, 1), lse, what: $"{what}: lse");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Packed_sequences_with_different_cache_lengths(bool causal)
    {
        // Per call, the new tokens of each sequence: a prefill, a chunk of several tokens on top
        // of the cache (the mask offset inside a query tile), decode steps, then a step that
        // leaves sequence 0 alone.
        var calls = new[] { new[] { 3, 17 }, new[] { 4, 2 }, new[] { 1, 1 }, new[] { 1, 1 }, new[] { 0, 1 } };
        var totals = new[] { calls.Sum(c => c[0]), calls.Sum(c => c[1]) };
        var seqs = totals.Select((n, b) => new AttentionCase(4, 2, 16, new[] { n }, seed: 60 + b)).ToArray();
        var shape = new AttentionShape(4, 2, 16, causal, rope: true);
        using var cache = new IlgpuKvCache(_gpu.Accelerator, 2, capacity: 25, 2, 16);

        var past = new int[2];
        foreach (var added in calls)
        {
            var (output, lse) = Step(shape, cache, seqs, added);

            var offsets = AttentionCase.OffsetsOf(added);
            for (var b = 0; b < 2; b++)
            {
                var n = past[b] + added[b];
                Assert.Equal(n, cache.Length(b));
                var full = AttentionReference.Prefix(seqs[b], n, causal, rope: true);
                var what = $"{shape} sequence {b}, tokens {past[b]}..{n - 1}";
                Numerics.Close(AttentionCase.Rows(full.Output, past[b], n, 4, 16), AttentionCase.Rows(output, offsets[b], offsets[b + 1], 4, 16), what: $"{what}: output");
                Numerics.Close(AttentionCase.Rows(full.Lse, past[b], n, 4, 1), AttentionCase.Rows(lse, offsets[b], offsets[b + 1], 4, 1), what: $"{what}: lse");
                past[b] = n;
            }
        }
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Ilgpu_cached_matches_native_cached(bool causal, bool rope)
    {
        var calls = new[] { new[] { 5, 20, 1 }, new[] { 2, 1, 3 }, new[] { 1, 1, 1 }, new[] { 1, 0, 1 } };
        var totals = Enumerable.Range(0, 3).Select(b => calls.Sum(c => c[b])).ToArray();
        var seqs = totals.Select((n, b) => new AttentionCase(4, 2, 32, new[] { n }, seed: 80 + b)).ToArray();
        var shape = new AttentionShape(4, 2, 32, causal, rope);
        using var cache = new IlgpuKvCache(_gpu.Accelerator, 3, capacity: 30, 2, 32);
        var native = new KvCache(3, 30, 2, 32);
        using var workers = new CpuWorkers(2);

        var past = new int[3];
        foreach (var added in calls)
        {
            var offsets = AttentionCase.OffsetsOf(added);
            var at = past.ToArray();
            var q = AttentionCase.Pack(seqs, s => s.Q, 4 * 32, b => at[b], b => at[b] + added[b]);
            var k = AttentionCase.Pack(seqs, s => s.K, 2 * 32, b => at[b], b => at[b] + added[b]);
            var v = AttentionCase.Pack(seqs, s => s.V, 2 * 32, b => at[b], b => at[b] + added[b]);
            var expected = new float[q.Length];
            var expectedLse = new float[offsets[^1] * 4];
            AttentionKernels.Forward(shape, native, q, k, v, expected, expectedLse, offsets, workers);

            var (output, lse) = _gpu.RunCached(shape, cache, q, k, v, offsets);

            var what = $"{shape} call adding {AttentionCase.Describe(added)} to {AttentionCase.Describe(at)}";
            Numerics.Close(expected, output, what: $"{what}: ILGPU vs native output");
            Numerics.Close(expectedLse, lse, what: $"{what}: ILGPU vs native lse");
            for (var b = 0; b < 3; b++)
            {
                past[b] += added[b];
                Assert.Equal(native.Length(b), cache.Length(b));
            }
        }

        // Both caches hold the same rotated keys and the same values.
        var a = new float[32];
        var e = new float[32];
        foreach (var (b, t, g) in new[] { (0, 0, 0), (0, 8, 1), (1, 19, 0), (1, 21, 1), (2, 5, 1) })
        {
            native.ReadKey(b, t, g, e);
            cache.ReadKey(b, t, g, a);
            Numerics.Close(e, a, what: $"cached key of sequence {b}, token {t}, kv head {g}");
            native.ReadValue(b, t, g, e);
            cache.ReadValue(b, t, g, a);
            Assert.Equal(e, a);
        }
    }

    [Fact]
    public void The_cache_holds_keys_after_rope_at_their_absolute_positions()
    {
        var c = new AttentionCase(4, 2, 16, new[] { 8 }, seed: 5);
        var shape = new AttentionShape(4, 2, 16, causal: true, rope: true);
        using var cache = new IlgpuKvCache(_gpu.Accelerator, 1, 8, 2, 16);

        Step(shape, cache, new[] { c }, new[] { 5 });
        Step(shape, cache, new[] { c }, new[] { 3 });

        var rotated = AttentionReference.Rope(c.K, 8, 2, 16, Enumerable.Range(0, 8).ToArray(), 10000);
        var row = new float[16];
        foreach (var (t, g) in new[] { (0, 0), (4, 1), (5, 0), (7, 1) })
        {
            cache.ReadKey(0, t, g, row);
            Numerics.Close(rotated.AsSpan(((t * 2) + g) * 16, 16).ToArray(), row, what: $"cached key {t}, kv head {g}");
            cache.ReadValue(0, t, g, row);
            Assert.Equal(c.V.AsSpan(((t * 2) + g) * 16, 16).ToArray(), row);
        }
    }

    [Fact]
    public void Overflow_names_the_sequence_and_the_capacity_and_changes_nothing()
    {
        var seqs = new[] { new AttentionCase(2, 2, 8, new[] { 4 }, seed: 1), new AttentionCase(2, 2, 8, new[] { 11 }, seed: 2) };
        var shape = new AttentionShape(2, 2, 8, causal: true, rope: true);
        using var cache = new IlgpuKvCache(_gpu.Accelerator, 2, 10, 2, 8);
        Step(shape, cache, seqs, new[] { 3, 8 });
        var before = Stored(cache);

        var e = Assert.Throws<InvalidOperationException>(() => Step(shape, cache, seqs, new[] { 1, 3 }));

        Assert.Contains("sequence 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("capacity is 10", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, cache.Length(0));
        Assert.Equal(8, cache.Length(1));
        Assert.Equal(before, Stored(cache));
        Assert.Throws<InvalidOperationException>(() => cache.Append(1, new float[3 * 16], new float[3 * 16]));
        Assert.Equal(8, cache.Length(1));

        // The refused call left nothing behind: the next step is still the full pass's next row.
        var (output, _) = Step(shape, cache, seqs, new[] { 1, 2 });
        var full0 = AttentionReference.Prefix(seqs[0], 4, true, true);
        var full1 = AttentionReference.Prefix(seqs[1], 10, true, true);
        Numerics.Close(AttentionCase.Concat(AttentionCase.Rows(full0.Output, 3, 4, 2, 8), AttentionCase.Rows(full1.Output, 8, 10, 2, 8)), output, what: "step after the refused call");
        Assert.Equal(10, cache.Length(1));
    }

    [Fact]
    public void Append_restores_and_truncate_rewinds()
    {
        var c = new AttentionCase(4, 2, 16, new[] { 14 }, seed: 8);
        var shape = new AttentionShape(4, 2, 16, causal: true, rope: true);
        using var filled = new IlgpuKvCache(_gpu.Accelerator, 1, 16, 2, 16);
        Step(shape, filled, new[] { c }, new[] { 12 });

        // Restoring row by row (keys already rotated) decodes as the prefilled cache does.
        using var restored = new IlgpuKvCache(_gpu.Accelerator, 1, 16, 2, 16);
        var key = new float[2 * 16];
        var value = new float[2 * 16];
        for (var t = 0; t < 12; t++)
        {
            for (var g = 0; g < 2; g++)
            {
                filled.ReadKey(0, t, g, key.AsSpan(g * 16, 16));
                filled.ReadValue(0, t, g, value.AsSpan(g * 16, 16));
            }

            restored.Append(0, key, value);
        }

        var fromPrefill = Step(shape, filled, new[] { c }, new[] { 1 });
        var fromAppend = Step(shape, restored, new[] { c }, new[] { 1 });
        Assert.Equal(fromPrefill.Output, fromAppend.Output);
        Assert.Equal(fromPrefill.Lse, fromAppend.Lse);

        // Rewinding to 6 tokens and feeding tokens 6..7 gives rows 6..7 of a full pass over 8.
        filled.Truncate(0, 6);
        var (output, lse) = Step(shape, filled, new[] { c }, new[] { 2 });
        var full = AttentionReference.Prefix(c, 8, true, true);
        Numerics.Close(AttentionCase.Rows(full.Output, 6, 8, 4, 16), output, what: "after truncate: output");
        Numerics.Close(AttentionCase.Rows(full.Lse, 6, 8, 4, 1), lse, what: "after truncate: lse");
        Assert.Equal(8, filled.Length(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => filled.Truncate(0, 9));
        filled.Reset();
        Assert.Equal(0, filled.Length(0));
    }

    [Fact]
    public void The_cached_forward_checks_its_arguments()
    {
        var c = new AttentionCase(2, 1, 8, new[] { 3 }, seed: 1);
        var shape = new AttentionShape(2, 1, 8);
        using var q = _gpu.Accelerator.Allocate1D(c.Q);
        using var k = _gpu.Accelerator.Allocate1D(c.K);
        using var lse = _gpu.Accelerator.Allocate1D(c.Lse);
        using var wrongHeads = new IlgpuKvCache(_gpu.Accelerator, 1, 8, 2, 8);
        using var twoSequences = new IlgpuKvCache(_gpu.Accelerator, 2, 8, 1, 8);

        var e = Assert.Throws<ArgumentException>(() => _gpu.For(shape).Forward(shape, wrongHeads, q.View, k.View, k.View, q.View, lse.View, c.Offsets));
        Assert.Equal("cache", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => _gpu.For(shape).Forward(shape, twoSequences, q.View, k.View, k.View, q.View, lse.View, c.Offsets));
        Assert.Contains("2", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => _gpu.For(shape).Forward(shape, wrongHeads, k.View, k.View, k.View, q.View, lse.View, c.Offsets));
        Assert.Equal("q", e.ParamName);
        Assert.Equal(0, wrongHeads.Length(0));
    }

    /// <summary>
    /// One cached call: sequence b adds the next added[b] tokens of its own single-sequence case,
    /// from index cache.Length(b) on. Returns the packed output and lse of the new tokens.
    /// </summary>
    private (float[] Output, float[] Lse) Step(AttentionShape shape, IlgpuKvCache cache, AttentionCase[] seqs, int[] added)
    {
        var at = Enumerable.Range(0, added.Length).Select(cache.Length).ToArray();
        var q = AttentionCase.Pack(seqs, s => s.Q, shape.Heads * shape.HeadDim, b => at[b], b => at[b] + added[b]);
        var k = AttentionCase.Pack(seqs, s => s.K, shape.KvHeads * shape.HeadDim, b => at[b], b => at[b] + added[b]);
        var v = AttentionCase.Pack(seqs, s => s.V, shape.KvHeads * shape.HeadDim, b => at[b], b => at[b] + added[b]);
        return _gpu.RunCached(shape, cache, q, k, v, AttentionCase.OffsetsOf(added));
    }

    /// <summary>Every stored key and value row, in order.</summary>
    private static float[] Stored(IlgpuKvCache cache)
    {
        var rows = new System.Collections.Generic.List<float>();
        var row = new float[cache.HeadDim];
        for (var b = 0; b < cache.Sequences; b++)
        {
            for (var t = 0; t < cache.Length(b); t++)
            {
                for (var g = 0; g < cache.KvHeads; g++)
                {
                    cache.ReadKey(b, t, g, row);
                    rows.AddRange(row);
                    cache.ReadValue(b, t, g, row);
                    rows.AddRange(row);
                }
            }
        }

        return rows.ToArray();
    }
}
