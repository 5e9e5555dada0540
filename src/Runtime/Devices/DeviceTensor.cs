using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao;

/// <summary>
/// A dense float tensor in device memory, row-major. Its memory comes from the session's pool
/// and goes back to it on <see cref="Dispose"/>.
/// </summary>
public sealed class DeviceTensor : IDisposable
{
    private readonly BufferPool _pool;
    private MemoryBuffer1D<float, Stride1D.Dense>? _buffer;

    internal DeviceTensor(BufferPool pool, MemoryBuffer1D<float, Stride1D.Dense> buffer, int[] shape, long length)
    {
        _pool = pool;
        _buffer = buffer;
        Shape = shape;
        Length = length;
    }

    /// <summary>Dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Elements: the product of <see cref="Shape"/>.</summary>
    public long Length { get; }

    /// <summary>The tensor's elements (the pooled buffer may be larger).</summary>
    public ArrayView1D<float, Stride1D.Dense> View =>
        (_buffer ?? throw new ObjectDisposedException(nameof(DeviceTensor))).View.SubView(0, Length);

    /// <summary>Copies the tensor to a new host array (waits for pending work).</summary>
    public float[] ToArray()
    {
        var host = new float[Length];
        if (Length > 0)
        {
            _pool.Accelerator.Synchronize();
            View.BaseView.CopyToCPU(_pool.Accelerator.DefaultStream, new Span<float>(host));
        }

        return host;
    }

    /// <summary>Copies the tensor into <paramref name="destination"/> (waits for pending work); no allocation.</summary>
    public void CopyTo(Span<float> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException($"the destination holds {destination.Length} floats, the tensor {Length}", nameof(destination));
        }

        if (Length > 0)
        {
            _pool.Accelerator.Synchronize();
            View.BaseView.CopyToCPU(_pool.Accelerator.DefaultStream, destination.Slice(0, (int)Length));
        }
    }

    /// <summary>Overwrites the tensor with <paramref name="source"/> (of exactly <see cref="Length"/> floats).</summary>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
        {
            throw new ArgumentException($"the source holds {source.Length} floats, the tensor {Length}", nameof(source));
        }

        if (Length > 0)
        {
            _pool.Accelerator.Synchronize();
            View.BaseView.CopyFromCPU(_pool.Accelerator.DefaultStream, source);
        }
    }

    /// <summary>Returns the memory to the session's pool; later disposals do nothing.</summary>
    public void Dispose()
    {
        if (_buffer != null)
        {
            _pool.Return(_buffer);
            _buffer = null;
        }
    }
}
