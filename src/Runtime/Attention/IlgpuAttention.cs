using System;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao.Attention;

/// <summary>
/// Runs an emitted <see cref="IIlgpuAttentionKernel"/> on an ILGPU accelerator (CUDA, OpenCL, or
/// the CPU accelerator that checks it). Same layouts and meaning as <see cref="NativeAttention"/>'s
/// packed and KV-cached forwards. The kernels are loaded once per instance; the small per-call
/// tables (query tiles, positions, cache rows, RoPE frequencies) live in buffers the instance
/// keeps and grows. One call at a time: those tables are shared by the instance's calls, so
/// threads that attend concurrently each need their own instance (a generated model has one,
/// used under its call lock).
/// </summary>
public sealed class IlgpuAttention : IDisposable
{
    /// <summary>
    /// Ints per query tile in the tile table: first query token, end of the sequence's query
    /// tokens, first token of the tile (absolute token indices into q/out/lse), first key row of
    /// the sequence (a row index into the key/value tensors, whose rows are [KvHeads, D]), keys
    /// the sequence attends over, and keys that precede its first query.
    /// </summary>
    public const int TileFields = 6;

    /// <summary>Threads per group of the cache append, where the accelerator allows that many.</summary>
    private const int AppendGroup = 64;

    private readonly Accelerator _accelerator;
    private readonly int _headDim;
    private readonly int _queryTile;
    private readonly bool _qkNorm;
    private readonly Func<AttentionShape, string?> _refuses;
    private readonly Func<AttentionShape, ReadOnlySpan<float>> _inverseFrequencies;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionKernelArgs> _kernel;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, AttentionKernelArgs> _append;
    private MemoryBuffer1D<int, Stride1D.Dense>? _tiles;
    private MemoryBuffer1D<int, Stride1D.Dense>? _positions;
    private MemoryBuffer1D<int, Stride1D.Dense>? _rows;
    private MemoryBuffer1D<float, Stride1D.Dense>? _frequencies;
    private float[]? _uploadedFrequencies;

    private IlgpuAttention(Accelerator accelerator, int headDim, int queryTile, bool qkNorm, Func<AttentionShape, string?> refuses, Func<AttentionShape, ReadOnlySpan<float>> inverseFrequencies, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionKernelArgs> forward, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, AttentionKernelArgs> append)
    {
        _accelerator = accelerator;
        _headDim = headDim;
        _queryTile = queryTile;
        _qkNorm = qkNorm;
        _refuses = refuses;
        _inverseFrequencies = inverseFrequencies;
        _kernel = accelerator.LoadStreamKernel(forward);
        _append = accelerator.LoadStreamKernel(append);
    }

    /// <summary>Loads the emitted kernel <typeparamref name="TKernel"/> on <paramref name="accelerator"/>.</summary>
    public static IlgpuAttention Create<TKernel>(Accelerator accelerator)
        where TKernel : struct, IIlgpuAttentionKernel
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        return new IlgpuAttention(accelerator, TKernel.HeadDim, TKernel.QueryTile, TKernel.QkNorm, TKernel.Refuses, TKernel.InverseFrequencies, TKernel.Forward, TKernel.Append);
    }

    /// <summary>The head dimension of the loaded kernel.</summary>
    public int HeadDim => _headDim;

    /// <summary>
    /// Packed attention on device views (q/out [T, Heads, D], k/v [T, KvHeads, D], lse [T, Heads]);
    /// offsets and positions come from the host. Queued on the default stream; returns before the
    /// kernel finishes.
    /// </summary>
    public void Forward(AttentionShape shape, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default, ArrayView<float> qNorm = default, ArrayView<float> kNorm = default)
    {
        CheckKernel(shape);
        AttentionChecks.QkNorm(_qkNorm, shape.HeadDim, Length(qNorm), Length(kNorm));
        var tokens = AttentionChecks.Inputs(shape, Length(q), Length(k), Length(v), Length(output), Length(lse), seqOffsets);
        AttentionChecks.Positions(positions, tokens);
        if (tokens == 0)
        {
            return;
        }

        // Each sequence attends over its own k/v rows, none before it.
        var sequences = seqOffsets.Length - 1;
        var keyBase = new int[sequences];
        var keyCount = new int[sequences];
        var past = new int[sequences];
        for (var b = 0; b < sequences; b++)
        {
            keyBase[b] = seqOffsets[b];
            keyCount[b] = seqOffsets[b + 1] - seqOffsets[b];
        }

        var pos = new int[tokens];
        for (var b = 0; b < sequences; b++)
        {
            for (var t = seqOffsets[b]; t < seqOffsets[b + 1]; t++)
            {
                pos[t] = positions.IsEmpty ? t - seqOffsets[b] : positions[t];
            }
        }

        var stream = _accelerator.DefaultStream;
        var positionView = Upload(ref _positions, pos, stream);
        var frequencyView = Frequencies(shape, stream);
        Attend(shape, q, k, v, output, lse, seqOffsets, keyBase, keyCount, past, positionView, frequencyView, Norm(qNorm, q), Norm(kNorm, q), new AttentionKernelArgs(shape));
    }

    /// <summary>The packed forward over a session's device tensors.</summary>
    public void Forward(AttentionShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor output, DeviceTensor lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(lse);
        Forward(shape, q.View.BaseView, k.View.BaseView, v.View.BaseView, output.View.BaseView, lse.View.BaseView, seqOffsets, positions);
    }

    /// <summary>
    /// Attention with a KV cache (prefill or decode), as <see cref="NativeAttention"/>'s cached
    /// forward: sequence b of the batch is sequence b of the cache. Each sequence's new tokens
    /// (zero or more) are rotated at positions Length(b), Length(b)+1, ..., appended to the cache,
    /// and attend over everything cached; with a causal shape the token at position p sees keys
    /// 0..p. Fails, changing nothing, if a sequence would overflow the cache. Two launches on the
    /// default stream: the kernel's Append writes the new keys (rotated once) and values, then its
    /// Forward reads every key from the cache. The
    /// cache's lengths advance at once; the kernels may still be running when this returns.
    /// </summary>
    public void Forward(AttentionShape shape, IlgpuKvCache cache, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> lse, ReadOnlySpan<int> seqOffsets, ArrayView<float> qNorm = default, ArrayView<float> kNorm = default)
    {
        CheckKernel(shape);
        AttentionChecks.QkNorm(_qkNorm, shape.HeadDim, Length(qNorm), Length(kNorm));
        var tokens = AttentionChecks.Inputs(shape, Length(q), Length(k), Length(v), Length(output), Length(lse), seqOffsets);
        AttentionChecks.Cache(shape, cache, seqOffsets);
        if (!ReferenceEquals(cache.Accelerator, _accelerator))
        {
            throw new ArgumentException($"the cache lives on {cache.Accelerator.Name}; this attention runs on {_accelerator.Name}", nameof(cache));
        }

        if (tokens == 0)
        {
            return;
        }

        // Sequence b's keys are cache rows b·Capacity .. b·Capacity + Length(b) + n − 1; its new
        // token i sits at position Length(b) + i, for RoPE and for the causal mask alike.
        var sequences = seqOffsets.Length - 1;
        var keyBase = new int[sequences];
        var keyCount = new int[sequences];
        var past = new int[sequences];
        var pos = new int[tokens];
        var rows = new int[tokens];
        for (var b = 0; b < sequences; b++)
        {
            past[b] = cache.Length(b);
            keyBase[b] = cache.Row(b, 0);
            keyCount[b] = past[b] + seqOffsets[b + 1] - seqOffsets[b];
            for (var t = seqOffsets[b]; t < seqOffsets[b + 1]; t++)
            {
                pos[t] = past[b] + t - seqOffsets[b];
                rows[t] = cache.Row(b, pos[t]);
            }
        }

        var stream = _accelerator.DefaultStream;
        var positionView = Upload(ref _positions, pos, stream);
        var rowView = Upload(ref _rows, rows, stream);
        var frequencyView = Frequencies(shape, stream);
        var args = new AttentionKernelArgs(shape, keysRotated: true);
        var threads = tokens * shape.KvHeads;
        var group = Math.Min(AppendGroup, _accelerator.MaxNumThreadsPerGroup);
        _append(
            new KernelConfig((threads + group - 1) / group, group),
            k,
            v,
            cache.Keys,
            cache.Values,
            rowView,
            positionView,
            frequencyView,
            Norm(kNorm, q),
            args);
        Attend(shape, q, cache.Keys, cache.Values, output, lse, seqOffsets, keyBase, keyCount, past, positionView, frequencyView, Norm(qNorm, q), Norm(kNorm, q), args);
        for (var b = 0; b < sequences; b++)
        {
            cache.SetLength(b, keyCount[b]);
        }
    }

    /// <summary>The cached forward over a session's device tensors.</summary>
    public void Forward(AttentionShape shape, IlgpuKvCache cache, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor output, DeviceTensor lse, ReadOnlySpan<int> seqOffsets)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(lse);
        Forward(shape, cache, q.View.BaseView, k.View.BaseView, v.View.BaseView, output.View.BaseView, lse.View.BaseView, seqOffsets);
    }

    /// <summary>Frees the device buffers kept between calls.</summary>
    public void Dispose()
    {
        _tiles?.Dispose();
        _positions?.Dispose();
        _rows?.Dispose();
        _frequencies?.Dispose();
    }

    private void CheckKernel(AttentionShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.HeadDim != _headDim)
        {
            throw new ArgumentException($"the shape's head dim is {shape.HeadDim} but the ILGPU kernel was emitted for {_headDim}", nameof(shape));
        }

        if (_refuses(shape) is { } why)
        {
            throw new ArgumentException($"the ILGPU attention kernel: {why}", nameof(shape));
        }
    }

    /// <summary>
    /// Launches the attention kernel: query tiles of the kernel's QueryTile tokens,
    /// never crossing a sequence, each with its sequence's first key row, key count and keys before
    /// its first query.
    /// </summary>
    private void Attend(AttentionShape shape, ArrayView<float> q, ArrayView<float> keys, ArrayView<float> values, ArrayView<float> output, ArrayView<float> lse, ReadOnlySpan<int> seqOffsets, int[] keyBase, int[] keyCount, int[] past, ArrayView<int> positions, ArrayView<float> frequencies, ArrayView<float> qNorm, ArrayView<float> kNorm, AttentionKernelArgs args)
    {
        var count = 0;
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            count += (seqOffsets[b + 1] - seqOffsets[b] + _queryTile - 1) / _queryTile;
        }

        var tiles = new int[TileFields * count];
        var at = 0;
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            for (var t = seqOffsets[b]; t < seqOffsets[b + 1]; t += _queryTile)
            {
                tiles[at++] = seqOffsets[b];
                tiles[at++] = seqOffsets[b + 1];
                tiles[at++] = t;
                tiles[at++] = keyBase[b];
                tiles[at++] = keyCount[b];
                tiles[at++] = past[b];
            }
        }

        var stream = _accelerator.DefaultStream;
        var tileView = Upload(ref _tiles, tiles, stream);
        _kernel(
            new KernelConfig(count * shape.Heads, _queryTile),
            q,
            keys,
            values,
            output,
            lse,
            tileView,
            positions,
            frequencies,
            qNorm,
            kNorm,
            args);
    }

    /// <summary>A norm weight, or (for a kernel without qk_norm, which never reads it) a valid stand-in view.</summary>
    private static ArrayView<float> Norm(ArrayView<float> gamma, ArrayView<float> standIn) => gamma.Length > 0 ? gamma : standIn;

    /// <summary>The kernel's RoPE inverse frequencies on the device: uploaded when the table changes, not every call.</summary>
    private ArrayView<float> Frequencies(AttentionShape shape, AcceleratorStream stream)
    {
        var table = _inverseFrequencies(shape);
        if (_frequencies != null && _uploadedFrequencies != null && table.SequenceEqual(_uploadedFrequencies))
        {
            return _frequencies.View.SubView(0, table.Length).BaseView;
        }

        _uploadedFrequencies = table.ToArray();
        return Upload(ref _frequencies, _uploadedFrequencies, stream);
    }

    private static int Length(ArrayView<float> view) =>
        view.Length <= int.MaxValue ? (int)view.Length : throw new ArgumentException($"a view of {view.Length} floats is beyond the kernel's int indexing");

    private ArrayView<T> Upload<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, T[] data, AcceleratorStream stream)
        where T : unmanaged
    {
        if (buffer == null || buffer.Length < data.Length)
        {
            // Earlier launches may still read the old buffer.
            stream.Synchronize();
            buffer?.Dispose();
            buffer = _accelerator.Allocate1D<T>(Math.Max(data.Length, 1));
        }

        var view = buffer.View.SubView(0, data.Length);
        view.CopyFromCPU(stream, data);
        return view.BaseView;
    }
}
