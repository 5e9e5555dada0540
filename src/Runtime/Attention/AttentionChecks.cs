using System;

namespace Wudao.Attention;

/// <summary>Argument checks shared by the native and ILGPU schedules; messages name the tensor and both sizes.</summary>
internal static class AttentionChecks
{
    /// <summary>Checks the offsets and every tensor's length; returns the token count.</summary>
    public static int Inputs(AttentionShape shape, int qLength, int kLength, int vLength, int outLength, int lseLength, ReadOnlySpan<int> seqOffsets)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (seqOffsets.Length < 2)
        {
            throw new ArgumentException($"seqOffsets holds {seqOffsets.Length} entries; it needs B + 1 ≥ 2 (0, end of sequence 0, ..., total tokens)", nameof(seqOffsets));
        }

        if (seqOffsets[0] != 0)
        {
            throw new ArgumentException($"seqOffsets[0] is {seqOffsets[0]}; it must be 0", nameof(seqOffsets));
        }

        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            if (seqOffsets[b + 1] < seqOffsets[b])
            {
                throw new ArgumentException($"seqOffsets decrease at sequence {b}: {seqOffsets[b]} then {seqOffsets[b + 1]}", nameof(seqOffsets));
            }
        }

        var tokens = seqOffsets[^1];
        Length("q", qLength, tokens, shape.Heads, shape.HeadDim);
        Length("k", kLength, tokens, shape.KvHeads, shape.HeadDim);
        Length("v", vLength, tokens, shape.KvHeads, shape.HeadDim);
        Length("output", outLength, tokens, shape.Heads, shape.HeadDim);
        Length("lse", lseLength, tokens, shape.Heads, 1);
        return tokens;
    }

    /// <summary>Positions are optional (empty: each token's index in its sequence) or one per token, non-negative.</summary>
    /// <summary>A qk_norm kernel takes one γ of HeadDim for queries and one for keys; any other kernel takes none.</summary>
    public static void QkNorm(bool kernelNorms, int headDim, int qLength, int kLength)
    {
        if (kernelNorms && (qLength != headDim || kLength != headDim))
        {
            throw new ArgumentException($"the kernel RMS-normalises q and k heads (qk_norm): it needs a γ of {headDim} floats for each, got {qLength} and {kLength}", qLength != headDim ? "qNorm" : "kNorm");
        }

        if (!kernelNorms && (qLength != 0 || kLength != 0))
        {
            throw new ArgumentException("the kernel was emitted without qk_norm, so it takes no q/k norm weights", qLength != 0 ? "qNorm" : "kNorm");
        }
    }

    public static void Positions(ReadOnlySpan<int> positions, int tokens)
    {
        if (positions.IsEmpty)
        {
            return;
        }

        if (positions.Length != tokens)
        {
            throw new ArgumentException($"positions holds {positions.Length} entries for {tokens} tokens; give one per token or none", nameof(positions));
        }

        for (var t = 0; t < positions.Length; t++)
        {
            if (positions[t] < 0)
            {
                throw new ArgumentException($"positions[{t}] is {positions[t]}; positions are non-negative", nameof(positions));
            }
        }
    }

    /// <summary>The cache (host or device) must match the shape and the batch, and have room for every sequence's new tokens.</summary>
    public static void Cache(AttentionShape shape, KvCacheBase cache, ReadOnlySpan<int> seqOffsets)
    {
        ArgumentNullException.ThrowIfNull(cache);
        CacheMatches(shape, cache.Sequences, cache.KvHeads, cache.HeadDim, seqOffsets);
        for (var b = 0; b < cache.Sequences; b++)
        {
            cache.CheckRoom(b, seqOffsets[b + 1] - seqOffsets[b]);
        }
    }

    /// <summary>The error of a cache that cannot take <paramref name="adding"/> more tokens for a sequence.</summary>
    public static InvalidOperationException Overflow(int sequence, int length, int adding, int capacity) =>
        new($"KV cache overflow: sequence {sequence} holds {length} tokens and cannot take {adding} more; its capacity is {capacity} tokens");

    private static void CacheMatches(AttentionShape shape, int sequences, int kvHeads, int headDim, ReadOnlySpan<int> seqOffsets)
    {
        if (kvHeads != shape.KvHeads || headDim != shape.HeadDim)
        {
            throw new ArgumentException($"the cache holds {kvHeads} kv heads of dim {headDim}; the shape has {shape.KvHeads} of dim {shape.HeadDim}", "cache");
        }

        if (sequences != seqOffsets.Length - 1)
        {
            throw new ArgumentException($"the batch has {seqOffsets.Length - 1} sequences but the cache holds {sequences}; sequence b of the batch is sequence b of the cache", "cache");
        }
    }

    private static void Length(string name, int actual, int tokens, int heads, int dim)
    {
        var expected = (long)tokens * heads * dim;
        if (actual != expected)
        {
            var layout = dim == 1 ? $"[{tokens}, {heads}]" : $"[{tokens}, {heads}, {dim}]";
            throw new ArgumentException($"{name} holds {actual} floats; {layout} needs {expected}", name);
        }
    }
}
