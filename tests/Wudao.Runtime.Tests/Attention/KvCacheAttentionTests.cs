using System;
using System.Linq;
using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// Incremental decoding through the KV cache: a prefill, then decode steps of one token per
/// sequence, each equal to the last row of a full pass over every token so far.
/// </summary>
public sealed class KvCacheAttentionTests : IDisposable
{
    private readonly CpuWorkers _workers = new(2);

    [Theory]
    [InlineData(8, 2, 64, true, true)]
    [InlineData(8, 1, 32, true, false)]
    [InlineData(4, 4, 128, false, true)]
    [InlineData(4, 2, 80, true, true)]
    public void Decode_steps_equal_a_full_recompute(int heads, int kvHeads, int dim, bool causal, bool rope)
    {
        var prompt = new[] { 5, 1, 70 };
        const int Steps = 6;
        var total = prompt.Select(n => n + Steps).ToArray();
        var seqs = total.Select((n, b) => new AttentionCase(heads, kvHeads, dim, new[] { n }, seed: (b * 7) + dim)).ToArray();
        var shape = new AttentionShape(heads, kvHeads, dim, causal, rope);
        var cache = new KvCache(prompt.Length, capacity: 80, kvHeads, dim);

        // Prefill: every prompt packed in one call.
        var offsets = AttentionCase.OffsetsOf(prompt);
        var q = AttentionCase.Pack(seqs, s => s.Q, heads * dim, b => 0, b => prompt[b]);
        var k = AttentionCase.Pack(seqs, s => s.K, kvHeads * dim, b => 0, b => prompt[b]);
        var v = AttentionCase.Pack(seqs, s => s.V, kvHeads * dim, b => 0, b => prompt[b]);
        var output = new float[q.Length];
        var lse = new float[offsets[^1] * heads];
        AttentionKernels.Forward(shape, cache, q, k, v, output, lse, offsets, _workers);

        for (var b = 0; b < prompt.Length; b++)
        {
            Assert.Equal(prompt[b], cache.Length(b));
            var expected = AttentionReference.Prefix(seqs[b], prompt[b], causal, rope);
            Numerics.Close(expected.Output, AttentionCase.Rows(output, offsets[b], offsets[b + 1], heads, dim), what: $"prefill of sequence {b}: output");
            Numerics.Close(expected.Lse, AttentionCase.Rows(lse, offsets[b], offsets[b + 1], heads, 1), what: $"prefill of sequence {b}: lse");
        }

        // Decode: one token per sequence per step.
        var ones = AttentionCase.OffsetsOf(prompt.Select(_ => 1).ToArray());
        for (var step = 0; step < Steps; step++)
        {
            var at = step;
            q = AttentionCase.Pack(seqs, s => s.Q, heads * dim, b => prompt[b] + at, b => prompt[b] + at + 1);
            k = AttentionCase.Pack(seqs, s => s.K, kvHeads * dim, b => prompt[b] + at, b => prompt[b] + at + 1);
            v = AttentionCase.Pack(seqs, s => s.V, kvHeads * dim, b => prompt[b] + at, b => prompt[b] + at + 1);
            output = new float[q.Length];
            lse = new float[prompt.Length * heads];
            AttentionKernels.Forward(shape, cache, q, k, v, output, lse, ones, _workers);

            for (var b = 0; b < prompt.Length; b++)
            {
                var n = prompt[b] + step + 1;
                Assert.Equal(n, cache.Length(b));
                var expected = AttentionReference.Prefix(seqs[b], n, causal, rope);
                var what = $"decode step {step} of sequence {b} ({n} tokens)";
                Numerics.Close(AttentionCase.Rows(expected.Output, n - 1, n, heads, dim), AttentionCase.Rows(output, b, b + 1, heads, dim), what: $"{what}: output");
                Numerics.Close(AttentionCase.Rows(expected.Lse, n - 1, n, heads, 1), AttentionCase.Rows(lse, b, b + 1, heads, 1), what: $"{what}: lse");
            }
        }
    }

    [Fact]
    public void The_cache_holds_keys_after_rope_and_values_as_given()
    {
        var c = new AttentionCase(4, 2, 64, new[] { 67 }, seed: 3);
        var shape = new AttentionShape(4, 2, 64, causal: true, rope: true);
        var cache = new KvCache(1, 100, 2, 64);

        AttentionKernels.Forward(shape, cache, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, _workers);

        var rotated = AttentionReference.Rope(c.K, c.Tokens, 2, 64, AttentionReference.IndexInSequence(c.Offsets), 10000);
        var row = new float[64];
        foreach (var (t, g) in new[] { (0, 0), (1, 1), (63, 0), (64, 1), (66, 0) })
        {
            cache.ReadKey(0, t, g, row);
            Numerics.Close(rotated.AsSpan(((t * 2) + g) * 64, 64).ToArray(), row, what: $"cached key {t}, kv head {g}");
            cache.ReadValue(0, t, g, row);
            Assert.Equal(c.V.AsSpan(((t * 2) + g) * 64, 64).ToArray(), row);
        }
    }

    [Fact]
    public void A_sequence_without_new_tokens_keeps_its_cache()
    {
        var shape = new AttentionShape(2, 1, 32, causal: true, rope: true);
        var cache = new KvCache(3, 16, 1, 32);
        var prefill = new AttentionCase(2, 1, 32, new[] { 4, 2, 3 }, seed: 21);
        AttentionKernels.Forward(shape, cache, prefill.Q, prefill.K, prefill.V, prefill.Output, prefill.Lse, prefill.Offsets, _workers);

        // Only sequences 0 and 2 step forward.
        var step = new AttentionCase(2, 1, 32, new[] { 1, 0, 1 }, seed: 22);
        AttentionKernels.Forward(shape, cache, step.Q, step.K, step.V, step.Output, step.Lse, step.Offsets, _workers);

        Assert.Equal(new[] { 5, 2, 4 }, new[] { cache.Length(0), cache.Length(1), cache.Length(2) });
    }

    [Fact]
    public void Overflow_names_the_sequence_and_the_capacity_and_changes_nothing()
    {
        var shape = new AttentionShape(2, 2, 32, causal: true);
        var cache = new KvCache(2, 10, 2, 32);
        var prefill = new AttentionCase(2, 2, 32, new[] { 3, 8 }, seed: 1);
        AttentionKernels.Forward(shape, cache, prefill.Q, prefill.K, prefill.V, prefill.Output, prefill.Lse, prefill.Offsets, _workers);

        var more = new AttentionCase(2, 2, 32, new[] { 3, 3 }, seed: 2);
        var e = Assert.Throws<InvalidOperationException>(() =>
            AttentionKernels.Forward(shape, cache, more.Q, more.K, more.V, more.Output, more.Lse, more.Offsets, _workers));

        Assert.Contains("sequence 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("capacity is 10", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, cache.Length(0));
        Assert.Equal(8, cache.Length(1));
        Assert.Throws<InvalidOperationException>(() => cache.Append(1, new float[3 * 64], new float[3 * 64]));
    }

    [Fact]
    public void Append_then_decode_equals_a_prefill()
    {
        // Restoring a cache row by row (already-rotated keys) gives the same decode as a prefill.
        var shape = new AttentionShape(4, 2, 64, causal: true, rope: true);
        var c = new AttentionCase(4, 2, 64, new[] { 12 }, seed: 8);
        var filled = new KvCache(1, 16, 2, 64);
        AttentionKernels.Forward(shape, filled, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, _workers);

        var restored = new KvCache(1, 16, 2, 64);
        var key = new float[2 * 64];
        var value = new float[2 * 64];
        for (var t = 0; t < 12; t++)
        {
            for (var g = 0; g < 2; g++)
            {
                filled.ReadKey(0, t, g, key.AsSpan(g * 64, 64));
                filled.ReadValue(0, t, g, value.AsSpan(g * 64, 64));
            }

            restored.Append(0, key, value);
        }

        var step = new AttentionCase(4, 2, 64, new[] { 1 }, seed: 9);
        var fromPrefill = new float[step.Output.Length];
        var fromAppend = new float[step.Output.Length];
        AttentionKernels.Forward(shape, filled, step.Q, step.K, step.V, fromPrefill, step.Lse, step.Offsets, _workers);
        AttentionKernels.Forward(shape, restored, step.Q, step.K, step.V, fromAppend, step.Lse, step.Offsets, _workers);
        Assert.Equal(fromPrefill, fromAppend);
    }

    public void Dispose() => _workers.Dispose();
}
