using System;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao.Attention;

/// <summary>
/// Runs <see cref="AttentionKernel"/> on an ILGPU accelerator (CUDA, OpenCL, or the CPU
/// accelerator that checks it). Same layouts and meaning as <see cref="NativeAttention"/>'s
/// packed forward; the KV cache is native-only for now. The kernel is loaded once per instance;
/// the small per-call tables (query tiles, positions, RoPE frequencies) live in buffers the
/// instance keeps and grows.
/// </summary>
public sealed class IlgpuAttention : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, AttentionKernelArgs, SpecializedValue<int>> _kernel;
    private MemoryBuffer1D<int, Stride1D.Dense>? _tiles;
    private MemoryBuffer1D<int, Stride1D.Dense>? _positions;
    private MemoryBuffer1D<float, Stride1D.Dense>? _frequencies;

    public IlgpuAttention(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        _accelerator = accelerator;
        _kernel = accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, AttentionKernelArgs, SpecializedValue<int>>(AttentionKernel.Forward);
    }

    /// <summary>
    /// Packed attention on device views (q/out [T, Heads, D], k/v [T, KvHeads, D], lse [T, Heads]);
    /// offsets and positions come from the host. Queued on the default stream; returns before the
    /// kernel finishes.
    /// </summary>
    public void Forward(AttentionShape shape, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.HeadDim > AttentionKernel.MaxDim)
        {
            throw new ArgumentException($"the ILGPU kernel takes head dims up to {AttentionKernel.MaxDim}; the shape has {shape.HeadDim}", nameof(shape));
        }

        var tokens = AttentionChecks.Inputs(shape, Length(q), Length(k), Length(v), Length(output), Length(lse), seqOffsets);
        AttentionChecks.Positions(positions, tokens);
        if (tokens == 0)
        {
            return;
        }

        // Query tiles: (sequence start, sequence end, first token), never crossing a sequence.
        var count = 0;
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            count += (seqOffsets[b + 1] - seqOffsets[b] + AttentionKernel.QueryTile - 1) / AttentionKernel.QueryTile;
        }

        var tiles = new int[3 * count];
        var at = 0;
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            for (var t = seqOffsets[b]; t < seqOffsets[b + 1]; t += AttentionKernel.QueryTile)
            {
                tiles[at++] = seqOffsets[b];
                tiles[at++] = seqOffsets[b + 1];
                tiles[at++] = t;
            }
        }

        var pos = new int[tokens];
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            for (var t = seqOffsets[b]; t < seqOffsets[b + 1]; t++)
            {
                pos[t] = positions.IsEmpty ? t - seqOffsets[b] : positions[t];
            }
        }

        var stream = _accelerator.DefaultStream;
        var tileView = Upload(ref _tiles, tiles, stream);
        var positionView = Upload(ref _positions, pos, stream);
        var frequencyView = Upload(ref _frequencies, shape.InverseFrequencies, stream);
        _kernel(
            new KernelConfig(count * shape.Heads, AttentionKernel.QueryTile),
            q,
            k,
            v,
            output,
            lse,
            tileView,
            positionView,
            frequencyView,
            new AttentionKernelArgs(shape),
            new SpecializedValue<int>(shape.HeadDim));
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

    public void Dispose()
    {
        _tiles?.Dispose();
        _positions?.Dispose();
        _frequencies?.Dispose();
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
