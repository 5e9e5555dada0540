using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wudao.Attention;

/// <summary>
/// One native attention call, run on <see cref="CpuWorkers"/> as two kernels:
/// <list type="number">
/// <item>kv_pack, one item per (sequence, chunk of KeyTile new tokens): rotates the new keys
/// once and writes keys and values in the kernel's layout (<see cref="KvTiles"/>) — into the KV
/// cache, or into per-call scratch when there is none. Each key is reused by every query tile,
/// so rotating it here instead of in each tile saves T/tile repetitions of the same work.</item>
/// <item>attention, one item per (sequence, kv head, query tile): the query tile holds
/// <c>tokenTile</c> tokens × every query head that shares the kv head (so GQA groups and
/// decode steps read each key tile once for the whole group); Q is rotated and scaled as it is
/// loaded; key tiles stream through the online softmax; key tiles wholly above the diagonal
/// are never visited and only the diagonal tiles are masked. Items are handed out largest
/// first, so the long causal tiles do not finish last.</item>
/// </list>
/// The instance (its item lists and per-worker scratch) is cached per calling thread and reused,
/// so a steady-state call allocates nothing.
/// </summary>
internal sealed unsafe partial class NativeAttentionRun<TDim, TS, TV> : CpuKernelSet
    where TDim : struct, IHeadDim
    where TS : struct, ISimd<TV>
    where TV : struct
{
    private const int Tile = NativeAttention.KeyTile;

    /// <summary>Query rows per attention item; a tile is this many rows' worth of whole tokens.</summary>
    private const int RowTarget = 32;

    [ThreadStatic]
    private static NativeAttentionRun<TDim, TS, TV>? t_cached;

    private AttentionShape _shape = null!;
    private float* _q;
    private float* _k;
    private float* _v;
    private float* _out;
    private float* _lse;
    private int* _positions;
    private int _sequences;
    private int _tokenTile;
    private int[] _offsets = Array.Empty<int>();
    private int[] _past = Array.Empty<int>();
    private float[][] _kvKeys = Array.Empty<float[]>();
    private float[][] _kvValues = Array.Empty<float[]>();
    private int[] _kvBase = Array.Empty<int>();
    private int[] _kvTiles = Array.Empty<int>();
    private float[] _scratchKeys = Array.Empty<float>();
    private float[] _scratchValues = Array.Empty<float>();
    private int[] _packSequence = Array.Empty<int>();
    private int[] _packStart = Array.Empty<int>();
    private int _packItems;
    private int[] _itemSequence = Array.Empty<int>();
    private int[] _itemHead = Array.Empty<int>();
    private int[] _itemStart = Array.Empty<int>();
    private int[] _itemCost = Array.Empty<int>();
    private int[] _order = Array.Empty<int>();
    private int _items;
    private float[][] _work = Array.Empty<float[]>();
    private int[][] _rowPositions = Array.Empty<int[]>();

    private NativeAttentionRun()
        : base(new[] { "kv_pack", "attention" })
    {
    }

    /// <summary>Runs one call; the inputs were checked by <see cref="NativeAttention"/>.</summary>
    public static void Execute(
        AttentionShape shape,
        ReadOnlySpan<float> q,
        ReadOnlySpan<float> k,
        ReadOnlySpan<float> v,
        Span<float> output,
        Span<float> lse,
        ReadOnlySpan<int> offsets,
        ReadOnlySpan<int> positions,
        KvCache? cache,
        CpuWorkers workers)
    {
        var run = t_cached ??= new NativeAttentionRun<TDim, TS, TV>();
        fixed (float* pq = q, pk = k, pv = v, po = output, pl = lse)
        fixed (int* pp = positions)
        {
            run._q = pq;
            run._k = pk;
            run._v = pv;
            run._out = po;
            run._lse = pl;
            run._positions = positions.IsEmpty ? null : pp;
            try
            {
                run.Plan(shape, offsets, cache, workers.Threads);
                workers.For(run, 0, run._packItems);
                if (cache != null)
                {
                    for (var b = 0; b < run._sequences; b++)
                    {
                        cache.SetLength(b, run._past[b] + run._offsets[b + 1] - run._offsets[b]);
                    }
                }

                workers.For(run, 1, run._items);
            }
            finally
            {
                run._q = run._k = run._v = run._out = run._lse = null;
                run._positions = null;
                run._shape = null!;
                Array.Clear(run._kvKeys);
                Array.Clear(run._kvValues);
            }
        }
    }

    public override void Run(int kernel, int item, int worker)
    {
        if (kernel == 0)
        {
            Pack(item);
        }
        else
        {
            Attend(item, worker);
        }
    }

    /// <summary>kv_pack: rotate (if RoPE) and store one chunk of a sequence's new keys and values.</summary>
    private void Pack(int item)
    {
        var shape = _shape;
        var dim = TDim.Value;
        var b = _packSequence[item];
        var start = _packStart[item];
        var first = _offsets[b];
        var count = Math.Min(Tile, _offsets[b + 1] - first - start);
        var keys = _kvKeys[b];
        var values = _kvValues[b];
        var tiles = _kvTiles[b];
        Span<float> cos = stackalloc float[dim / 2];
        Span<float> sin = stackalloc float[dim / 2];
        Span<float> rotated = stackalloc float[dim];
        for (var i = 0; i < count; i++)
        {
            var token = first + start + i;
            var at = _past[b] + start + i;
            if (shape.Rope)
            {
                Rope.Angles(shape.InverseFrequencies, _positions == null ? at : _positions[token], cos, sin);
            }

            for (var g = 0; g < shape.KvHeads; g++)
            {
                var row = (((long)token * shape.KvHeads) + g) * dim;
                scoped ReadOnlySpan<float> key = new ReadOnlySpan<float>(_k + row, dim);
                if (shape.Rope)
                {
                    Rope.Rotate(key, rotated, cos, sin, 1f);
                    key = rotated;
                }

                var kAt = _kvBase[b] + KvTiles.Key(tiles, dim, g, at);
                for (var d = 0; d < dim; d++)
                {
                    keys[kAt + (d * Tile)] = key[d];
                }

                new ReadOnlySpan<float>(_v + row, dim).CopyTo(values.AsSpan(_kvBase[b] + KvTiles.Value(tiles, dim, g, at), dim));
            }
        }
    }

    /// <summary>attention: one query tile of one kv head's group against every key tile it may see.</summary>
    private void Attend(int item, int worker)
    {
        var shape = _shape;
        var dim = TDim.Value;
        var group = shape.Group;
        var index = _order[item];
        var b = _itemSequence[index];
        var g = _itemHead[index];
        var t0 = _itemStart[index];
        var seqStart = _offsets[b];
        var n = _offsets[b + 1] - seqStart;
        var tokens = Math.Min(_tokenTile, n - t0);
        var rows = tokens * group;
        var rows4 = RoundUp4(rows);
        var past = _past[b];
        var first = past + t0;
        var last = first + tokens - 1;

        var work = _work[worker];
        var pos = _rowPositions[worker];
        var qs = work.AsSpan(0, rows4 * dim);
        var s = work.AsSpan(qs.Length, rows4 * Tile);
        var o = work.AsSpan(qs.Length + s.Length, rows4 * dim);
        var m = work.AsSpan(qs.Length + s.Length + o.Length, rows4);
        var l = work.AsSpan(qs.Length + s.Length + o.Length + rows4, rows4);
        var alpha = work.AsSpan(qs.Length + s.Length + o.Length + (2 * rows4), rows4);
        var angles = work.AsSpan(qs.Length + s.Length + o.Length + (3 * rows4), dim);
        var cos = angles[..(dim / 2)];
        var sin = angles[(dim / 2)..];

        // Q rows (token-major, then the group's heads), rotated at their positions and scaled.
        for (var tt = 0; tt < tokens; tt++)
        {
            var token = seqStart + t0 + tt;
            var at = first + tt;
            if (shape.Rope)
            {
                Rope.Angles(shape.InverseFrequencies, _positions == null ? at : _positions[token], cos, sin);
            }

            for (var gh = 0; gh < group; gh++)
            {
                var r = (tt * group) + gh;
                var src = new ReadOnlySpan<float>(_q + ((((long)token * shape.Heads) + (g * group) + gh) * dim), dim);
                var dst = qs.Slice(r * dim, dim);
                if (shape.Rope)
                {
                    Rope.Rotate(src, dst, cos, sin, shape.Scale);
                }
                else
                {
                    Scale(src, dst, shape.Scale);
                }

                pos[r] = at;
            }
        }

        // Padding rows (to a multiple of the micro-kernels' 4): zero queries, never written out.
        qs[(rows * dim)..].Clear();
        for (var r = rows; r < rows4; r++)
        {
            pos[r] = last;
        }

        o.Clear();
        m.Fill(float.NegativeInfinity);
        l.Clear();

        var tiles = _kvTiles[b];
        ref var kBase = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_kvKeys[b]), _kvBase[b] + (g * KvTiles.PerHead(tiles, dim)));
        ref var vBase = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_kvValues[b]), _kvBase[b] + (g * KvTiles.PerHead(tiles, dim)));
        ref var qRef = ref MemoryMarshal.GetReference(qs);
        ref var sRef = ref MemoryMarshal.GetReference(s);
        ref var oRef = ref MemoryMarshal.GetReference(o);
        ref var mRef = ref MemoryMarshal.GetReference(m);
        ref var lRef = ref MemoryMarshal.GetReference(l);
        ref var aRef = ref MemoryMarshal.GetReference(alpha);

        // Causal: keys past the tile's last position are never visited.
        var end = shape.Causal ? last + 1 : past + n;
        for (var k0 = 0; k0 < end; k0 += Tile)
        {
            var valid = Math.Min(Tile, end - k0);
            ref var kt = ref Unsafe.Add(ref kBase, k0 * dim);
            for (var r = 0; r < rows4; r += 4)
            {
                AttentionMicroKernels.Scores4<TDim, TS, TV>(ref Unsafe.Add(ref qRef, r * dim), ref kt, ref Unsafe.Add(ref sRef, r * Tile));
            }

            for (var r = 0; r < rows4; r++)
            {
                var limit = shape.Causal ? Math.Min(valid, pos[r] - k0 + 1) : valid;
                Unsafe.Add(ref aRef, r) = AttentionMicroKernels.Softmax<TS, TV>(ref Unsafe.Add(ref sRef, r * Tile), limit, ref Unsafe.Add(ref mRef, r), ref Unsafe.Add(ref lRef, r));
            }

            for (var r = 0; r < rows4; r += 4)
            {
                AttentionMicroKernels.Values4<TDim, TS, TV>(ref Unsafe.Add(ref sRef, r * Tile), ref Unsafe.Add(ref vBase, k0 * dim), valid, ref Unsafe.Add(ref oRef, r * dim), ref Unsafe.Add(ref aRef, r));
            }
        }

        for (var r = 0; r < rows; r++)
        {
            var token = seqStart + t0 + (r / group);
            var head = (g * group) + (r % group);
            var row = ((long)token * shape.Heads) + head;
            Scale(o.Slice(r * dim, dim), new Span<float>(_out + (row * dim), dim), 1f / l[r]);
            _lse[row] = m[r] + MathF.Log(l[r]);
        }
    }

    private static void Scale(ReadOnlySpan<float> source, Span<float> destination, float factor)
    {
        ref var src = ref MemoryMarshal.GetReference(source);
        ref var dst = ref MemoryMarshal.GetReference(destination);
        var f = TS.Broadcast(factor);
        var d = 0;
        for (; d + TS.Lanes <= TDim.Value; d += TS.Lanes)
        {
            TS.Store(TS.Multiply(f, TS.Load(ref Unsafe.Add(ref src, d))), ref Unsafe.Add(ref dst, d));
        }

        for (; d < TDim.Value; d++)
        {
            Unsafe.Add(ref dst, d) = Unsafe.Add(ref src, d) * factor;
        }
    }

    private static int RoundUp4(int n) => (n + 3) & ~3;

    private static void Grow<T>(ref T[] array, int length)
    {
        if (array.Length < length)
        {
            array = new T[Math.Max(length, array.Length * 2)];
        }
    }
}
