using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace Wudao.Distributed;

/// <summary>
/// Ranks in one process (for example one per accelerator), each driven by its own thread,
/// exchanging through shared memory: every rank reads its peers' pinned send buffers directly,
/// one copy per row.
/// </summary>
/// <remarks>
/// A collective waits at most <see cref="Timeout"/> for its peers to arrive. A rank that is
/// disposed, passes invalid arguments, or calls a different collective than its peers breaks
/// the group: the others fail at once with a <see cref="CommunicatorException"/> naming it,
/// and a rank that stops calling without being disposed makes the others time out the same
/// way. A broken group stays broken. <see cref="Run{T}"/> starts the threads and disposes each
/// rank when its body ends, so a rank that throws fails the others without waiting.
/// </remarks>
public sealed unsafe partial class InProcessCommunicator : ICommunicator
{
    private readonly Group _group;
    private volatile bool _disposed;
    private int _busy;

    private InProcessCommunicator(Group group, int rank)
    {
        _group = group;
        Rank = rank;
    }

    /// <summary>How long a collective waits for its peers when no timeout is given: 60 s.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(60);

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size => _group.Size;

    /// <summary>How long a collective waits for all ranks to arrive before it fails the group.</summary>
    public TimeSpan Timeout => _group.Timeout;

    /// <summary>
    /// Creates a group of <paramref name="size"/> ranks; element r is rank r. Drive each from
    /// its own thread and dispose each when done.
    /// </summary>
    /// <param name="size">The number of ranks, at least 1.</param>
    /// <param name="timeout">How long a collective waits for its peers (default <see cref="DefaultTimeout"/>; <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits forever).</param>
    public static InProcessCommunicator[] Create(int size, TimeSpan? timeout = null)
    {
        if (size < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "a group has at least one rank");
        }

        var wait = timeout ?? DefaultTimeout;
        if (wait != System.Threading.Timeout.InfiniteTimeSpan && (wait <= TimeSpan.Zero || wait.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), wait, "the timeout must be positive and under 24 days, or infinite");
        }

        var group = new Group(size, wait);
        var ranks = new InProcessCommunicator[size];
        for (var r = 0; r < size; r++)
        {
            ranks[r] = new InProcessCommunicator(group, r);
        }

        return ranks;
    }

    /// <summary>
    /// Runs <paramref name="body"/> for each of <paramref name="size"/> ranks on its own thread,
    /// disposes each rank when its body ends (so a rank that throws fails the others at once),
    /// and returns the results in rank order. Throws an <see cref="AggregateException"/> holding
    /// every rank's exception if any rank failed.
    /// </summary>
    public static T[] Run<T>(int size, Func<ICommunicator, T> body, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        var ranks = Create(size, timeout);
        var results = new T[size];
        var errors = new Exception?[size];
        var threads = new Thread[size];
        for (var r = 0; r < size; r++)
        {
            var rank = r;
            threads[r] = new Thread(() =>
            {
                try
                {
                    results[rank] = body(ranks[rank]);
                }
#pragma warning disable CA1031 // every rank's failure is collected and rethrown below
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    errors[rank] = ex;
                }
                finally
                {
                    ranks[rank].Dispose();
                }
            })
            {
                IsBackground = true,
                Name = $"Wudao rank {rank}/{size}",
            };
        }

        foreach (var thread in threads)
        {
            thread.Start();
        }

        foreach (var thread in threads)
        {
            thread.Join();
        }

        var failed = new List<Exception>();
        for (var r = 0; r < size; r++)
        {
            if (errors[r] is { } error)
            {
                failed.Add(error);
            }
        }

        if (failed.Count > 0)
        {
            var first = Array.FindIndex(errors, e => e is not null and not CommunicatorException);
            var summary = first >= 0 ? $"rank {first} failed: {errors[first]!.Message}" : failed[0].Message;
            throw new AggregateException($"{failed.Count} of {size} ranks failed; {summary}", failed);
        }

        return results;
    }

    /// <inheritdoc/>
    public void AllToAll(ReadOnlySpan<int> send, Span<int> recv)
    {
        ThrowIfDisposed();
        using var busy = Enter();
        try
        {
            ArgumentChecks.Block(Size, send.Length, recv.Length);
            ArgumentChecks.NotOverlapping(send, recv);
        }
        catch (ArgumentException ex)
        {
            _group.Break(Rank, $"rank {Rank} called {nameof(AllToAll)} with invalid arguments: {ex.Message}", ex);
            throw;
        }

        fixed (int* s = send, r = recv)
        {
            var slot = _group.Slots[Rank];
            slot.Op = Op.AllToAll;
            slot.Send = s;
            slot.SendLength = send.Length;
            slot.Recv = r;
            slot.RecvLength = recv.Length;
            _group.Exchange(Rank);
        }
    }

    /// <inheritdoc/>
    public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts, int rowLength)
    {
        ThrowIfDisposed();
        if (sendCounts.Length != Size || recvCounts.Length != Size)
        {
            var ex = new ArgumentException($"AllToAllV: sendCounts and recvCounts need {Size} entries (one per rank), have {sendCounts.Length} and {recvCounts.Length}");
            _group.Break(Rank, $"rank {Rank} called {nameof(AllToAllV)} with invalid arguments: {ex.Message}", ex);
            throw ex;
        }

        var sendOffsets = Size <= 256 ? stackalloc int[Size] : new int[Size];
        var recvOffsets = Size <= 256 ? stackalloc int[Size] : new int[Size];
        try
        {
            ExchangeLayout.Packed(sendCounts, sendOffsets);
            ExchangeLayout.Packed(recvCounts, recvOffsets);
        }
        catch (ArgumentException ex)
        {
            _group.Break(Rank, $"rank {Rank} called {nameof(AllToAllV)} with invalid arguments: {ex.Message}", ex);
            throw;
        }

        AllToAllV(send, sendCounts, sendOffsets, recv, recvCounts, recvOffsets, rowLength);
    }

    /// <inheritdoc/>
    public void AllToAllV(
        ReadOnlySpan<float> send,
        ReadOnlySpan<int> sendCounts,
        ReadOnlySpan<int> sendOffsets,
        Span<float> recv,
        ReadOnlySpan<int> recvCounts,
        ReadOnlySpan<int> recvOffsets,
        int rowLength)
    {
        ThrowIfDisposed();
        using var busy = Enter();
        int sendSegments, recvSegments;
        try
        {
            sendSegments = ArgumentChecks.Rows("send", Size, send.Length, sendCounts, sendOffsets, rowLength);
            recvSegments = ArgumentChecks.Rows("recv", Size, recv.Length, recvCounts, recvOffsets, rowLength);
            ArgumentChecks.Disjoint(recvCounts, recvOffsets);
            ArgumentChecks.NotOverlapping(send, recv);
        }
        catch (ArgumentException ex)
        {
            _group.Break(Rank, $"rank {Rank} called {nameof(AllToAllV)} with invalid arguments: {ex.Message}", ex);
            throw;
        }

        fixed (float* s = send, r = recv)
        fixed (int* sc = sendCounts, so = sendOffsets, rc = recvCounts, ro = recvOffsets)
        {
            var slot = _group.Slots[Rank];
            slot.Op = Op.AllToAllV;
            slot.Send = s;
            slot.SendLength = send.Length;
            slot.Recv = r;
            slot.RecvLength = recv.Length;
            slot.SendCounts = sc;
            slot.SendOffsets = so;
            slot.SendSegments = sendSegments;
            slot.RecvCounts = rc;
            slot.RecvOffsets = ro;
            slot.RecvSegments = recvSegments;
            slot.RowLength = rowLength;
            _group.Exchange(Rank);
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values)
    {
        ThrowIfDisposed();
        using var busy = Enter();
        var slot = _group.Slots[Rank];
        if (slot.FloatScratch.Length < values.Length)
        {
            slot.FloatScratch = new float[values.Length];
        }

        values.CopyTo(slot.FloatScratch);
        fixed (float* v = values)
        {
            slot.Op = Op.AllReduceFloat;
            slot.Recv = v;
            slot.RecvLength = values.Length;
            _group.Exchange(Rank);
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<int> values)
    {
        ThrowIfDisposed();
        using var busy = Enter();
        var slot = _group.Slots[Rank];
        if (slot.IntScratch.Length < values.Length)
        {
            slot.IntScratch = new int[values.Length];
        }

        values.CopyTo(slot.IntScratch);
        fixed (int* v = values)
        {
            slot.Op = Op.AllReduceInt;
            slot.Recv = v;
            slot.RecvLength = values.Length;
            _group.Exchange(Rank);
        }
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        ThrowIfDisposed();
        using var busy = Enter();
        _group.Slots[Rank].Op = Op.Barrier;
        _group.Exchange(Rank);
    }

    /// <summary>
    /// Leaves the group. Peers that later call a collective, or wait in one now, fail with a
    /// <see cref="CommunicatorException"/> naming this rank; a collective that every rank has
    /// already entered still completes.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _group.Break(Rank, $"rank {Rank} left the group (disposed)", null);
    }

    /// <summary>"in-process rank r of n", for logs and errors.</summary>
    public override string ToString() => $"in-process rank {Rank} of {Size}";

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Refuses a second thread in a collective of the same rank: it would overwrite the slot its peers read.</summary>
    private Busy Enter()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException($"rank {Rank} is already in a collective on another thread; one thread drives a rank at a time");
        }

        return new Busy(this);
    }

    private readonly ref struct Busy(InProcessCommunicator owner)
    {
        public void Dispose() => Volatile.Write(ref owner._busy, 0);
    }
}
