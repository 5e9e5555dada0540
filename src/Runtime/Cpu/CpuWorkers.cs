using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Wudao;

/// <summary>
/// A fixed team of threads for native kernels. <see cref="For"/> hands out items dynamically but
/// each item is computed by one thread in a fixed order, so results do not depend on the thread
/// count. A call allocates nothing; the caller works as worker 0.
/// </summary>
public sealed class CpuWorkers : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly ManualResetEventSlim _done = new(false);
    private readonly object _run = new();
    private CpuKernelSet? _set;
    private int _kernel;
    private int _count;
    private int _next;
    private int _pending;
    private Exception? _error;
    private volatile bool _disposed;

    public CpuWorkers(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread is needed");
        }

        Threads = threads;
        _threads = new Thread[threads - 1];
        _start = new SemaphoreSlim[threads - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            var worker = i + 1;
            _start[i] = new SemaphoreSlim(0);
            _threads[i] = new Thread(() => Loop(worker)) { IsBackground = true, Name = $"wudao-cpu-{worker}" };
            _threads[i].Start();
        }
    }

    /// <summary>Threads that run items, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Runs items 0..count-1 of a kernel and returns when all are done.</summary>
    public void For(CpuKernelSet set, int kernel, int count)
    {
        if (count <= 0)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count == 1 || _threads.Length == 0)
        {
            for (var i = 0; i < count; i++)
            {
                set.Run(kernel, i, 0);
            }

            return;
        }

        lock (_run)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _set = set;
            _kernel = kernel;
            _count = count;
            _next = -1;
            _error = null;
            _pending = _threads.Length;
            _done.Reset();
            foreach (var s in _start)
            {
                s.Release();
            }

            Work(0);
            _done.Wait();
            _set = null;
            if (_error != null)
            {
                ExceptionDispatchInfo.Capture(_error).Throw();
            }
        }
    }

    public void Dispose()
    {
        // Taken after any running For, so workers never leave in the middle of a call.
        lock (_run)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var s in _start)
            {
                s.Release();
            }

            foreach (var t in _threads)
            {
                t.Join();
            }

            foreach (var s in _start)
            {
                s.Dispose();
            }

            _done.Dispose();
        }
    }

    private void Work(int worker)
    {
        int i;
        while ((i = Interlocked.Increment(ref _next)) < _count)
        {
            try
            {
                _set!.Run(_kernel, i, worker);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, e, null);
            }
        }
    }

    private void Loop(int worker)
    {
        var start = _start[worker - 1];
        while (true)
        {
            start.Wait();
            if (_disposed)
            {
                return;
            }

            Work(worker);
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _done.Set();
            }
        }
    }
}
