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
public sealed unsafe class InProcessCommunicator : ICommunicator
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

    public int Rank { get; }

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

    private enum Op
    {
        None,
        Barrier,
        AllToAll,
        AllToAllV,
        AllReduceFloat,
        AllReduceInt,
    }

    /// <summary>What one rank publishes for the collective it is in; read by its peers between the two phases.</summary>
    private sealed class Slot
    {
        public Op Op;
        public bool Arrived;
        public void* Send;
        public int SendLength;
        public void* Recv;
        public int RecvLength;
        public int* SendCounts;
        public int* SendOffsets;
        public int SendSegments;
        public int* RecvCounts;
        public int* RecvOffsets;
        public int RecvSegments;
        public int RowLength;
        public float[] FloatScratch = [];
        public int[] IntScratch = [];
    }

    /// <summary>
    /// The shared state. A collective has two phases: arrival (each rank publishes its slot and
    /// waits, up to the timeout, until all have arrived), then transfer (each rank checks its
    /// peers' slots against its own and pulls what it receives). No rank leaves before every
    /// rank has finished its transfer, so the buffers peers read stay pinned and unchanged;
    /// transfers never block, so that wait needs no timeout.
    /// </summary>
    private sealed class Group
    {
        private readonly object _sync = new();
        private int _arrived;
        private long _generation;
        private int _transferring;
        private long _failedGeneration = -1;
        private CommunicatorException? _broken;

        public Group(int size, TimeSpan timeout)
        {
            Size = size;
            Timeout = timeout;
            Slots = new Slot[size];
            for (var r = 0; r < size; r++)
            {
                Slots[r] = new Slot();
            }
        }

        public int Size { get; }

        public TimeSpan Timeout { get; }

        public Slot[] Slots { get; }

        /// <summary>Marks the group broken (the first reason sticks) and wakes every waiting rank.</summary>
        public void Break(int culprit, string reason, Exception? inner)
        {
            lock (_sync)
            {
                _broken ??= new CommunicatorException(reason, culprit, inner);
                Monitor.PulseAll(_sync);
            }
        }

        public void Exchange(int rank)
        {
            var generation = Arrive(rank);
            Exception? error = null;
            try
            {
                Transfer(rank);
            }
#pragma warning disable CA1031 // any failure in the transfer fails the whole group, and is rethrown on every rank
            catch (Exception ex)
#pragma warning restore CA1031
            {
                error = ex;
            }

            Depart(rank, generation, error);
        }

        private long Arrive(int rank)
        {
            var operation = Name(Slots[rank].Op);
            lock (_sync)
            {
                ThrowIfBroken(rank, operation);
                var generation = _generation;
                Slots[rank].Arrived = true;
                if (++_arrived == Size)
                {
                    _arrived = 0;
                    foreach (var slot in Slots)
                    {
                        slot.Arrived = false;
                    }

                    _transferring = Size;
                    _generation++;
                    Monitor.PulseAll(_sync);
                    return generation;
                }

                var infinite = Timeout == System.Threading.Timeout.InfiniteTimeSpan;
                var start = Stopwatch.GetTimestamp();
                while (true)
                {
                    if (_generation != generation)
                    {
                        return generation;
                    }

                    ThrowIfBroken(rank, operation);
                    var remaining = infinite ? System.Threading.Timeout.InfiniteTimeSpan : Timeout - Stopwatch.GetElapsedTime(start);
                    if (!infinite && remaining <= TimeSpan.Zero)
                    {
                        var missing = new List<int>();
                        for (var r = 0; r < Size; r++)
                        {
                            if (!Slots[r].Arrived)
                            {
                                missing.Add(r);
                            }
                        }

                        var who = missing.Count == 1 ? $"rank {missing[0]}" : $"ranks {string.Join(", ", missing)}";
                        _broken ??= new CommunicatorException(
                            $"timed out after {Timeout.TotalSeconds:0.###} s in {operation} waiting for {who} (rank {rank} gave up)",
                            missing.Count > 0 ? missing[0] : null);
                        Monitor.PulseAll(_sync);
                        ThrowIfBroken(rank, operation);
                    }

                    Monitor.Wait(_sync, remaining);
                }
            }
        }

        private void Depart(int rank, long generation, Exception? error)
        {
            lock (_sync)
            {
                if (error is not null)
                {
                    var culprit = (error as CommunicatorException)?.FailedRank ?? rank;
                    _broken ??= new CommunicatorException(error.Message, culprit, error);
                    _failedGeneration = generation;
                }

                if (--_transferring == 0)
                {
                    Monitor.PulseAll(_sync);
                }

                while (_transferring != 0)
                {
                    Monitor.Wait(_sync);
                }

                if (_failedGeneration == generation)
                {
                    ThrowIfBroken(rank, Name(Slots[rank].Op));
                }
            }
        }

        private void ThrowIfBroken(int rank, string operation)
        {
            if (_broken is { } broken)
            {
                throw new CommunicatorException($"rank {rank}: {operation} failed: {broken.Message}", broken.FailedRank, broken);
            }
        }

        private void Transfer(int rank)
        {
            var me = Slots[rank];
            for (var p = 0; p < Size; p++)
            {
                if (Slots[p].Op != me.Op)
                {
                    throw new CommunicatorException($"rank {p} called {Name(Slots[p].Op)} while rank {rank} called {Name(me.Op)}", p);
                }
            }

            switch (me.Op)
            {
                case Op.AllToAll:
                    TransferBlocks(rank);
                    break;
                case Op.AllToAllV:
                    for (var p = 0; p < Size; p++)
                    {
                        TransferRows(p, rank);
                    }

                    break;
                case Op.AllReduceFloat:
                    ReduceFloats(rank);
                    break;
                case Op.AllReduceInt:
                    ReduceInts(rank);
                    break;
                default:
                    break;
            }
        }

        private void TransferBlocks(int rank)
        {
            var me = Slots[rank];
            var block = me.SendLength / Size;
            for (var p = 0; p < Size; p++)
            {
                if (Slots[p].SendLength != me.SendLength)
                {
                    throw new CommunicatorException(
                        $"rank {p} called AllToAll with blocks of {Slots[p].SendLength / Size} ints but rank {rank} with blocks of {block}", p);
                }
            }

            for (var p = 0; p < Size; p++)
            {
                new ReadOnlySpan<int>((int*)Slots[p].Send + ((long)rank * block), block)
                    .CopyTo(new Span<int>((int*)me.Recv + ((long)p * block), block));
            }
        }

        /// <summary>Copies the row stream rank <paramref name="source"/> sends to <paramref name="rank"/> into its segments.</summary>
        private void TransferRows(int source, int rank)
        {
            var from = Slots[source];
            var to = Slots[rank];
            if (from.RowLength != to.RowLength)
            {
                throw new CommunicatorException(
                    $"rank {source} called AllToAllV with rows of {from.RowLength} floats but rank {rank} with rows of {to.RowLength}", source);
            }

            var sendCounts = new ReadOnlySpan<int>(from.SendCounts + ((long)rank * from.SendSegments), from.SendSegments);
            var sendOffsets = new ReadOnlySpan<int>(from.SendOffsets + ((long)rank * from.SendSegments), from.SendSegments);
            var recvCounts = new ReadOnlySpan<int>(to.RecvCounts + ((long)source * to.RecvSegments), to.RecvSegments);
            var recvOffsets = new ReadOnlySpan<int>(to.RecvOffsets + ((long)source * to.RecvSegments), to.RecvSegments);
            var sent = ArgumentChecks.Total(sendCounts);
            var expected = ArgumentChecks.Total(recvCounts);
            if (sent != expected)
            {
                throw new CommunicatorException(
                    $"rank {source} sends {sent} rows to rank {rank}, but rank {rank} expects {expected} rows from rank {source}", source);
            }

            long row = to.RowLength;
            int i = 0, j = 0;
            long usedI = 0, usedJ = 0;
            while (i < sendCounts.Length && j < recvCounts.Length)
            {
                var leftI = sendCounts[i] - usedI;
                if (leftI == 0)
                {
                    i++;
                    usedI = 0;
                    continue;
                }

                var leftJ = recvCounts[j] - usedJ;
                if (leftJ == 0)
                {
                    j++;
                    usedJ = 0;
                    continue;
                }

                var rows = Math.Min(leftI, leftJ);
                var bytes = rows * row * sizeof(float);
                Buffer.MemoryCopy(
                    (float*)from.Send + ((sendOffsets[i] + usedI) * row),
                    (float*)to.Recv + ((recvOffsets[j] + usedJ) * row),
                    bytes,
                    bytes);
                usedI += rows;
                usedJ += rows;
            }
        }

        private void ReduceFloats(int rank)
        {
            var me = Slots[rank];
            CheckReduceLengths(rank);
            var sum = new Span<float>((float*)me.Recv, me.RecvLength);
            Slots[0].FloatScratch.AsSpan(0, sum.Length).CopyTo(sum);
            for (var p = 1; p < Size; p++)
            {
                var add = Slots[p].FloatScratch.AsSpan(0, sum.Length);
                for (var k = 0; k < sum.Length; k++)
                {
                    sum[k] += add[k];
                }
            }
        }

        private void ReduceInts(int rank)
        {
            var me = Slots[rank];
            CheckReduceLengths(rank);
            var sum = new Span<int>((int*)me.Recv, me.RecvLength);
            Slots[0].IntScratch.AsSpan(0, sum.Length).CopyTo(sum);
            for (var p = 1; p < Size; p++)
            {
                var add = Slots[p].IntScratch.AsSpan(0, sum.Length);
                for (var k = 0; k < sum.Length; k++)
                {
                    sum[k] = unchecked(sum[k] + add[k]);
                }
            }
        }

        private void CheckReduceLengths(int rank)
        {
            for (var p = 0; p < Size; p++)
            {
                if (Slots[p].RecvLength != Slots[rank].RecvLength)
                {
                    throw new CommunicatorException(
                        $"rank {p} called {Name(Slots[p].Op)} with {Slots[p].RecvLength} values but rank {rank} with {Slots[rank].RecvLength}", p);
                }
            }
        }

        private static string Name(Op op) => op switch
        {
            Op.AllToAll => "AllToAll",
            Op.AllToAllV => "AllToAllV",
            Op.AllReduceFloat => "AllReduceSum(float)",
            Op.AllReduceInt => "AllReduceSum(int)",
            Op.Barrier => "Barrier",
            _ => "nothing",
        };
    }
}
