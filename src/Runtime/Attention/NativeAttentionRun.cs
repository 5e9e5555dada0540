using System;

namespace Wudao.Attention;

/// <summary>
/// One native attention call, run on <see cref="CpuWorkers"/> as two kernels:
/// <list type="number">
/// <item>kv_pack, one item per (sequence, chunk of KeyTile new tokens): the kernel rotates the
/// new keys once and writes keys and values in the layout of <see cref="KvTiles"/> — into the KV
/// cache, or into per-call scratch when there is none. Each key is reused by every query tile,
/// so rotating it here instead of in each tile saves T/tile repetitions of the same work.</item>
/// <item>attention, one item per (sequence, kv head, query tile): the query tile holds
/// <c>tokenTile</c> tokens × every query head that shares the kv head (so GQA groups and
/// decode steps read each key tile once for the whole group); key tiles wholly above the
/// diagonal are never visited. Items are handed out largest first, so the long causal tiles do
/// not finish last.</item>
/// </list>
/// The instance (its item lists and per-worker scratch) is cached per calling thread and reused,
/// so a steady-state call allocates nothing.
/// </summary>
internal sealed unsafe partial class NativeAttentionRun<TKernel> : CpuKernelSet
    where TKernel : struct, INativeAttentionKernel
{
    private const int Tile = NativeAttention.KeyTile;

    /// <summary>Query rows per attention item; a tile is this many rows' worth of whole tokens.</summary>
    private const int RowTarget = 32;

    [ThreadStatic]
    private static NativeAttentionRun<TKernel>? t_cached;

    private AttentionShape _shape = null!;
    private float* _q;
    private float* _k;
    private float* _v;
    private float* _out;
    private float* _lse;
    private int* _positions;
    private float* _qNorm;
    private float* _kNorm;
    private int _norms;
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
        CpuWorkers workers,
        ReadOnlySpan<float> qNorm,
        ReadOnlySpan<float> kNorm)
    {
        var run = t_cached ??= new NativeAttentionRun<TKernel>();
        fixed (float* pq = q, pk = k, pv = v, po = output, pl = lse, pqn = qNorm, pkn = kNorm)
        fixed (int* pp = positions)
        {
            run._qNorm = pqn;
            run._kNorm = pkn;
            run._norms = qNorm.Length;
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
                run._q = run._k = run._v = run._out = run._lse = run._qNorm = run._kNorm = null;
                run._norms = 0;
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

    /// <summary>kv_pack: one chunk of a sequence's new keys and values, by the kernel.</summary>
    private void Pack(int item)
    {
        var b = _packSequence[item];
        var start = _packStart[item];
        var first = _offsets[b];
        var tokens = _offsets[_sequences];
        var kv = (long)_shape.KvHeads * TKernel.HeadDim;
        TKernel.Pack(new AttentionPackItem
        {
            Shape = _shape,
            K = new ReadOnlySpan<float>(_k, checked((int)(tokens * kv))),
            V = new ReadOnlySpan<float>(_v, checked((int)(tokens * kv))),
            Positions = _positions == null ? default : new ReadOnlySpan<int>(_positions, tokens),
            FirstToken = first + start,
            Count = Math.Min(Tile, _offsets[b + 1] - first - start),
            FirstPosition = _past[b] + start,
            Keys = _kvKeys[b],
            Values = _kvValues[b],
            KeyBase = _kvBase[b],
            Tiles = _kvTiles[b],
            KNorm = new ReadOnlySpan<float>(_kNorm, _norms),
        });
    }

    /// <summary>attention: one query tile of one kv head's group, by the kernel.</summary>
    private void Attend(int item, int worker)
    {
        var shape = _shape;
        var index = _order[item];
        var b = _itemSequence[index];
        var g = _itemHead[index];
        var t0 = _itemStart[index];
        var seqStart = _offsets[b];
        var n = _offsets[b + 1] - seqStart;
        var tokens = Math.Min(_tokenTile, n - t0);
        var past = _past[b];
        var total = _offsets[_sequences];
        var q = (long)shape.Heads * TKernel.HeadDim;
        var perHead = KvTiles.PerHead(_kvTiles[b], TKernel.HeadDim);
        var keyBase = _kvBase[b] + (g * perHead);
        TKernel.Attend(new AttentionTileItem
        {
            Shape = shape,
            Q = new ReadOnlySpan<float>(_q, checked((int)(total * q))),
            Output = new Span<float>(_out, checked((int)(total * q))),
            Lse = new Span<float>(_lse, total * shape.Heads),
            Positions = _positions == null ? default : new ReadOnlySpan<int>(_positions, total),
            FirstToken = seqStart + t0,
            Tokens = tokens,
            FirstPosition = past + t0,

            // Causal: keys past the tile's last position are never visited.
            KeyEnd = shape.Causal ? past + t0 + tokens : past + n,
            KvHead = g,
            Keys = _kvKeys[b].AsSpan(keyBase, perHead),
            Values = _kvValues[b].AsSpan(keyBase, perHead),
            Work = _work[worker],
            RowPositions = _rowPositions[worker],
            QNorm = new ReadOnlySpan<float>(_qNorm, _norms),
        });
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
