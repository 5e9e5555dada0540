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
public static class AttentionKernel
{
    /// <summary>Threads per group, one query row each.</summary>
    public const int QueryTile = 16;

    /// <summary>Keys staged per tile; one per thread, so loading is one row per thread.</summary>
    public const int KeyTile = QueryTile;

    /// <summary>Largest head dimension: shared-memory sizes must be compile-time constants.</summary>
    public const int MaxDim = 128;

    /// <summary>
    /// Grid: one group per (query tile, head), group index tile·Heads + head. tiles holds per
    /// query tile (sequence start, sequence end, first token), absolute token indices.
    /// headDim is a <see cref="SpecializedValue{T}"/>: ILGPU compiles the kernel once per head
    /// dimension with it as a constant.
    /// </summary>
    public static void Forward(
        ArrayView<float> q,
        ArrayView<float> k,
        ArrayView<float> v,
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
        var seqStart = tiles[3 * tile];
        var seqEnd = tiles[(3 * tile) + 1];
        var t0 = tiles[(3 * tile) + 2];
        var n = seqEnd - seqStart;
        var t = t0 + tid;
        var active = t < seqEnd;
        var i = t - seqStart;
        var lastI = XMath.Min(t0 + QueryTile, seqEnd) - 1 - seqStart;
        var end = args.Causal != 0 ? lastI + 1 : n;
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
            if (key < n)
            {
                var token = seqStart + key;
                var kvRow = ((token * args.KvHeads) + kvHead) * dim;
                LoadRow(k, kvRow, ks, tid * MaxDim, dim, half, args.Rope != 0, positions[token], inverseFrequencies, 1f);
                for (var d = 0; d < dim; d++)
                {
                    vs[(tid * MaxDim) + d] = v[kvRow + d];
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

    /// <summary>Copies a row into shared memory, rotate-half RoPE at <paramref name="position"/> if asked, times <paramref name="scale"/>.</summary>
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
