using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace Wudao.Distributed;

/// <summary>The shared state of one group of in-process ranks: its slots, its two-phase rendezvous and how it breaks.</summary>
public sealed unsafe partial class InProcessCommunicator
{
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
