using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao;

/// <summary>
/// The scratch buffers of one forward call, returned to the pool together. A lease on pooled
/// state: the state is reused by later calls, and the lease's generation makes a stale copy
/// (disposed twice, or used after disposal) fail or do nothing instead of touching another
/// call's buffers.
/// </summary>
public readonly struct ForwardScope : IDisposable
{
    private readonly State _state;
    private readonly int _generation;

    internal ForwardScope(State state)
    {
        _state = state;
        _generation = state.Generation;
    }

    /// <summary>Rents <paramref name="length"/> floats of scratch, returned when the scope is disposed.</summary>
    public ArrayView<float> F32(long length)
    {
        var b = Live().Pool.Rent<float>(length);
        _state.F32.Add(b);
        return b.View.BaseView.SubView(0, length);
    }

    /// <summary>Rents <paramref name="length"/> ints of scratch, returned when the scope is disposed.</summary>
    public ArrayView<int> I32(long length)
    {
        var b = Live().Pool.Rent<int>(length);
        _state.I32.Add(b);
        return b.View.BaseView.SubView(0, length);
    }

    /// <summary>
    /// The call's one host synchronisation: waits for the kernels and copies the statistics
    /// block back. When nothing ran, the block is all zeros. The array belongs to the scope:
    /// read it before the scope is disposed.
    /// </summary>
    public int[] ReadBack(ArrayView<int> block, bool ran)
    {
        var state = Live();
        if (state.Host.Length != block.Length)
        {
            state.Host = new int[block.Length];
        }

        var host = state.Host;
        Array.Clear(host);
        if (ran && host.Length > 0)
        {
            state.Pool.Accelerator.Synchronize();
            block.CopyToCPU(state.Pool.Accelerator.DefaultStream, new Span<int>(host));
        }

        return host;
    }

    /// <summary>Returns the call's buffers to the pool; a stale copy's disposal does nothing.</summary>
    public void Dispose()
    {
        // A second Dispose, from a stale copy, finds a newer generation and does nothing.
        if (_state == null || _state.Generation != _generation)
        {
            return;
        }

        _state.Generation++;
        foreach (var b in _state.F32)
        {
            _state.Pool.Return(b);
        }

        foreach (var b in _state.I32)
        {
            _state.Pool.Return(b);
        }

        _state.F32.Clear();
        _state.I32.Clear();
        _state.Pool.Recycle(_state);
    }

    private State Live() => _state != null && _state.Generation == _generation
        ? _state
        : throw new ObjectDisposedException(nameof(ForwardScope), "this forward scope was disposed; its buffers belong to another call now");

    /// <summary>What a scope owns, kept by the pool between calls.</summary>
    internal sealed class State
    {
        public State(BufferPool pool)
        {
            Pool = pool;
        }

        public BufferPool Pool { get; }

        public List<MemoryBuffer1D<float, Stride1D.Dense>> F32 { get; } = new();

        public List<MemoryBuffer1D<int, Stride1D.Dense>> I32 { get; } = new();

        public int[] Host { get; set; } = Array.Empty<int>();

        public int Generation { get; set; }
    }
}
