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
    private int[] _host = Array.Empty<int>();
    private bool _active;

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
    /// block back. When nothing ran, the block is all zeros. The array belongs to the scope:
    /// read it before the scope is disposed.
    /// </summary>
    public int[] ReadBack(ArrayView<int> block, bool ran)
    {
        if (_host.Length != block.Length)
        {
            _host = new int[block.Length];
        }

        var host = _host;
        Array.Clear(host);
        if (ran && host.Length > 0)
        {
            _pool.Accelerator.Synchronize();
            block.CopyToCPU(_pool.Accelerator.DefaultStream, new Span<int>(host));
        }

        return host;
    }

    internal ForwardScope Activate()
    {
        _active = true;
        return this;
    }

    public void Dispose()
    {
        // A second Dispose must not hand the same scope out twice.
        if (!_active)
        {
            return;
        }

        _active = false;
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
        _pool.Recycle(this);
    }
}
