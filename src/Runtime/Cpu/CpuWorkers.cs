using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Wudao;

/// <summary>
/// A fixed team of threads for native kernels. <see cref="For"/> hands out items dynamically but
/// each item is computed by one thread in a fixed order, so results do not depend on the thread
/// count. A call allocates nothing; the caller works as worker 0. Between calls a worker spins
/// briefly before it sleeps: a decode step makes dozens of calls a few microseconds apart, and
/// waking a sleeping thread costs more than most of them take.
/// </summary>
public sealed class CpuWorkers : IDisposable
{
    /// <summary>How long an idle worker watches for the next call before it sleeps.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000;

    private readonly Thread[] _threads;
    private readonly object _run = new();
    private readonly object _sleep = new();
    private CpuKernelSet? _set;
    private int _kernel;
    private int _count;
    private int _next;
    private int _pending;
    private int _generation;
    private int _sleepers;
    private Exception? _error;
    private volatile bool _disposed;

    /// <summary>Starts <paramref name="threads"/> − 1 background threads; the caller of <see cref="For"/> works as worker 0.</summary>
    public CpuWorkers(int threads)
    {
        if (threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread is needed");
        }

        Threads = threads;
        _threads = new Thread[threads - 1];
        for (var i = 0; i < _threads.Length; i++)
        {
            var worker = i + 1;
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
            Wake();
            Work(0);
            var wait = new SpinWait();
            while (Volatile.Read(ref _pending) > 0)
            {
                wait.SpinOnce(sleep1Threshold: -1);
            }

            _set = null;
            if (_error != null)
            {
                ExceptionDispatchInfo.Capture(_error).Throw();
            }
        }
    }

    /// <summary>Stops and joins the worker threads; waits for a running <see cref="For"/> first.</summary>
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
            Wake();
            foreach (var t in _threads)
            {
                t.Join();
            }
        }
    }

    /// <summary>A new generation starts every waiting worker: spinning ones see it, sleeping ones are pulsed.</summary>
    private void Wake()
    {
        // The increment is a full fence: a worker that registered as a sleeper before it is seen
        // here, and one that registers after it sees the new generation before it sleeps.
        Interlocked.Increment(ref _generation);
        if (Volatile.Read(ref _sleepers) > 0)
        {
            lock (_sleep)
            {
                Monitor.PulseAll(_sleep);
            }
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
        var seen = 0;
        while (true)
        {
            seen = WaitForGeneration(seen);
            if (_disposed)
            {
                return;
            }

            Work(worker);
            Interlocked.Decrement(ref _pending);
        }
    }

    private int WaitForGeneration(int seen)
    {
        var start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _generation) == seen && Stopwatch.GetTimestamp() - start < SpinTicks)
        {
            Thread.SpinWait(16);
        }

        if (Volatile.Read(ref _generation) == seen)
        {
            lock (_sleep)
            {
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _generation) == seen)
                {
                    Monitor.Wait(_sleep);
                }

                Interlocked.Decrement(ref _sleepers);
            }
        }

        return Volatile.Read(ref _generation);
    }
}
