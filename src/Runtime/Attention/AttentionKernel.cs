using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Wudao.Attention;

/// <summary>
/// The ILGPU schedule of the fused attention forward: the native kernel's algorithm with one
/// thread per query row. A group is <see cref="QueryTile"/> consecutive tokens of one sequence for
/// one query head; it stages the rotated, scaled query rows and each key/value tile in shared
/// memory, then every thread runs the online softmax over the tile (scores, tile max, rescale of
/// its accumulator, P·V). The accumulator is the thread's own output row, so no per-thread array
/// of HeadDim is needed. Causal groups stop after the tile holding their last row's diagonal;
/// loop bounds are uniform over the group, so every thread reaches every barrier.
/// </summary>
/// <remarks>
/// One source serves the packed pass and the KV-cached pass: each query tile names where its
/// sequence's keys start in the key/value tensors, how many there are, and how many of them
/// precede its sequence's first query (the cache length). Packed: keys are the call's own k/v
/// rows (start = the sequence's first token, count = its length, none before it), rotated as they
/// are loaded. Cached: keys are the cache's rows (<see cref="Append"/> wrote the new ones,
/// rotated once), and query i of a sequence with L cached tokens sits at position L + i, so the
/// causal mask lets it see keys 0..L + i.
/// </remarks>
public static class AttentionKernel
{
    /// <summary>Threads per group, one query row each.</summary>
    public const int QueryTile = 16;

    /// <summary>Keys staged per tile; one per thread, so loading is one row per thread.</summary>
    public const int KeyTile = QueryTile;

    /// <summary>Largest head dimension: shared-memory sizes must be compile-time constants.</summary>
    public const int MaxDim = 128;

    /// <summary>
    /// Ints per query tile in the tile table: first query token, end of the sequence's query
    /// tokens, first token of the tile (absolute token indices into q/out/lse), first key row of
    /// the sequence (a row index into the key/value tensors, whose rows are [KvHeads, D]), keys
    /// the sequence attends over, and keys that precede its first query.
    /// </summary>
    public const int TileFields = 6;

    /// <summary>Threads per group of <see cref="Append"/>, where the accelerator allows that many.</summary>
    public const int AppendGroup = 64;

    /// <summary>
    /// Grid: one group per (query tile, head), group index tile·Heads + head. tiles holds
    /// <see cref="TileFields"/> ints per query tile. positions holds each query token's RoPE
    /// position and, when keys are rotated on load (<see cref="AttentionKernelArgs.RopeKeys"/>),
    /// each key row's. headDim is a <see cref="SpecializedValue{T}"/>: ILGPU compiles the kernel
    /// once per head dimension with it as a constant.
    /// </summary>
    public static void Forward(
        ArrayView<float> q,
        ArrayView<float> keys,
        ArrayView<float> values,
        ArrayView<float> output,
        ArrayView<float> lse,
        ArrayView<int> tiles,
        ArrayView<int> positions,
        ArrayView<float> inverseFrequencies,
        AttentionKernelArgs args,
        SpecializedValue<int> headDim)
    {
        var qs = SharedMemory.Allocate<float>(QueryTile * MaxDim);
        var ks = SharedMemory.Allocate<float>(KeyTile * MaxDim);
        var vs = SharedMemory.Allocate<float>(KeyTile * MaxDim);
        var ss = SharedMemory.Allocate<float>(QueryTile * KeyTile);
        int dim = headDim;
        var half = dim / 2;
        var tid = Group.IdxX;
        var tile = Grid.IdxX / args.Heads;
        var head = Grid.IdxX - (tile * args.Heads);
        var kvHead = head / (args.Heads / args.KvHeads);
        var seqStart = tiles[TileFields * tile];
        var seqEnd = tiles[(TileFields * tile) + 1];
        var t0 = tiles[(TileFields * tile) + 2];
        var keyBase = tiles[(TileFields * tile) + 3];
        var keyCount = tiles[(TileFields * tile) + 4];
        var past = tiles[(TileFields * tile) + 5];
        var t = t0 + tid;
        var active = t < seqEnd;

        // Key index of this row's diagonal: its own key, after the past ones.
        var i = past + t - seqStart;
        var lastI = past + XMath.Min(t0 + QueryTile, seqEnd) - 1 - seqStart;
        var end = args.Causal != 0 ? lastI + 1 : keyCount;
        var row = ((t * args.Heads) + head) * dim;

        if (active)
        {
            LoadRow(q, row, qs, tid * MaxDim, dim, half, args.Rope != 0, positions[t], inverseFrequencies, args.Scale);
            for (var d = 0; d < dim; d++)
            {
                output[row + d] = 0f;
            }
        }

        var m = float.NegativeInfinity;
        var l = 0f;
        for (var k0 = 0; k0 < end; k0 += KeyTile)
        {
            // The previous tile's keys are no longer read by anyone.
            Group.Barrier();
            var key = k0 + tid;
            if (key < keyCount)
            {
                var keyRow = keyBase + key;
                var kvRow = ((keyRow * args.KvHeads) + kvHead) * dim;
                var rotate = args.RopeKeys != 0;
                LoadRow(keys, kvRow, ks, tid * MaxDim, dim, half, rotate, rotate ? positions[keyRow] : 0, inverseFrequencies, 1f);
                for (var d = 0; d < dim; d++)
                {
                    vs[(tid * MaxDim) + d] = values[kvRow + d];
                }
            }

            Group.Barrier();
            var limit = XMath.Min(KeyTile, end - k0);
            if (args.Causal != 0)
            {
                limit = XMath.Min(limit, i - k0 + 1);
            }

            if (active && limit > 0)
            {
                var tileMax = float.NegativeInfinity;
                for (var j = 0; j < limit; j++)
                {
                    var s = 0f;
                    for (var d = 0; d < dim; d++)
                    {
                        s += qs[(tid * MaxDim) + d] * ks[(j * MaxDim) + d];
                    }

                    ss[(tid * KeyTile) + j] = s;
                    tileMax = XMath.Max(tileMax, s);
                }

                var next = XMath.Max(m, tileMax);
                var alpha = m == float.NegativeInfinity ? 0f : XMath.Exp(m - next);
                var sum = 0f;
                for (var j = 0; j < limit; j++)
                {
                    var p = XMath.Exp(ss[(tid * KeyTile) + j] - next);
                    ss[(tid * KeyTile) + j] = p;
                    sum += p;
                }

                l = (l * alpha) + sum;
                m = next;
                for (var d = 0; d < dim; d++)
                {
                    var acc = output[row + d] * alpha;
                    for (var j = 0; j < limit; j++)
                    {
                        acc += ss[(tid * KeyTile) + j] * vs[(j * MaxDim) + d];
                    }

                    output[row + d] = acc;
                }
            }
        }

        if (active)
        {
            var inverse = 1f / l;
            for (var d = 0; d < dim; d++)
            {
                output[row + d] *= inverse;
            }

            lse[(t * args.Heads) + head] = m + XMath.Log(l);
        }
    }

    /// <summary>
    /// Writes a call's new keys and values into a KV cache: one thread per (token, kv head), grid
    /// index token·KvHeads + kvHead. rows[t] is the cache row of token t (sequence·capacity +
    /// position); the key is rotated at positions[t] when <see cref="AttentionKernelArgs.Rope"/>
    /// is set, the value copied as it is. Cache rows are [KvHeads, D], as k and v rows are.
    /// </summary>
    public static void Append(
        ArrayView<float> k,
        ArrayView<float> v,
        ArrayView<float> cacheKeys,
        ArrayView<float> cacheValues,
        ArrayView<int> rows,
        ArrayView<int> positions,
        ArrayView<float> inverseFrequencies,
        AttentionKernelArgs args,
        SpecializedValue<int> headDim)
    {
        int dim = headDim;
        var index = Grid.GlobalIndex.X;
        if (index >= rows.IntLength * args.KvHeads)
        {
            return;
        }

        var t = index / args.KvHeads;
        var kvHead = index - (t * args.KvHeads);
        var from = ((t * args.KvHeads) + kvHead) * dim;
        var to = ((rows[t] * args.KvHeads) + kvHead) * dim;
        LoadRow(k, from, cacheKeys, to, dim, dim / 2, args.Rope != 0, positions[t], inverseFrequencies, 1f);
        for (var d = 0; d < dim; d++)
        {
            cacheValues[to + d] = v[from + d];
        }
    }

    /// <summary>Copies a row (into shared memory, or into the KV cache), rotate-half RoPE at <paramref name="position"/> if asked, times <paramref name="scale"/>.</summary>
    private static void LoadRow(ArrayView<float> source, int at, ArrayView<float> destination, int to, int dim, int half, bool rope, int position, ArrayView<float> inverseFrequencies, float scale)
    {
        if (!rope)
        {
            for (var d = 0; d < dim; d++)
            {
                destination[to + d] = source[at + d] * scale;
            }

            return;
        }

        for (var j = 0; j < half; j++)
        {
            var angle = position * inverseFrequencies[j];
            var c = XMath.Cos(angle);
            var s = XMath.Sin(angle);
            var a = source[at + j];
            var b = source[at + j + half];
            destination[to + j] = ((a * c) - (b * s)) * scale;
            destination[to + j + half] = ((b * c) + (a * s)) * scale;
        }
    }
}
