using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao;

/// <summary>The scratch buffers of one forward call, returned to the pool together.</summary>
public sealed class ForwardScope : IDisposable
{
    private readonly BufferPool _pool;
    private readonly List<MemoryBuffer1D<float, Stride1D.Dense>> _f32 = new();
    private readonly List<MemoryBuffer1D<int, Stride1D.Dense>> _i32 = new();

    internal ForwardScope(BufferPool pool)
    {
        _pool = pool;
    }

    public ArrayView<float> F32(long length)
    {
        var b = _pool.Rent<float>(length);
        _f32.Add(b);
        return b.View.BaseView.SubView(0, length);
    }

    public ArrayView<int> I32(long length)
    {
        var b = _pool.Rent<int>(length);
        _i32.Add(b);
        return b.View.BaseView.SubView(0, length);
    }

    /// <summary>
    /// The call's one host synchronisation: waits for the kernels and copies the statistics
    /// block back. When nothing ran, the block is all zeros.
    /// </summary>
    public int[] ReadBack(ArrayView<int> block, bool ran)
    {
        var host = new int[block.Length];
        if (ran && host.Length > 0)
        {
            _pool.Accelerator.Synchronize();
            block.CopyToCPU(_pool.Accelerator.DefaultStream, new Span<int>(host));
        }

        return host;
    }

    public void Dispose()
    {
        foreach (var b in _f32)
        {
            _pool.Return(b);
        }

        foreach (var b in _i32)
        {
            _pool.Return(b);
        }

        _f32.Clear();
        _i32.Clear();
    }
}
