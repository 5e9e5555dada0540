using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using Wudao.Distributed;

namespace Wudao.MpiRank;

/// <summary>
/// The exchanges a MoE layer makes, on deterministic data, each checked on every rank against
/// a result computed directly from the data (not through a communicator). Run by every rank
/// of an in-process group and of an mpirun job; the digest of every received bit lets the
/// tests compare the two implementations.
/// </summary>
public static class Scenarios
{
    /// <summary>Floats per row in the packed exchange.</summary>
    public const int RowLength = 5;

    /// <summary>Floats per token row in the MoE round trip.</summary>
    public const int Dim = 4;

    public const int ExpertsPerRank = 2;

    private const float Sentinel = -12345.5f;

    /// <summary>Rows rank <paramref name="source"/> sends to <paramref name="target"/>: rank 1 sends nothing, and some pairs exchange zero rows.</summary>
    public static int PackedCount(int source, int target, int size) =>
        size > 1 && source == 1 ? 0 : ((source * 3) + (target * 5) + 1) % 4;

    /// <summary>Tokens on a rank in the MoE round trip: rank 1 has none.</summary>
    public static int Tokens(int rank, int size) => size > 1 && rank == 1 ? 0 : 5 + (3 * rank);

    /// <summary>The global expert of token <paramref name="token"/> on <paramref name="rank"/>; the last expert never gets a token.</summary>
    public static int ExpertOf(int rank, int token, int experts) => experts == 1 ? 0 : ((rank * 7) + (token * 3)) % (experts - 1);

    public static float Value(int a, int b, int row, int column) =>
        (((a * 7919) + (b * 104729) + (row * 31) + (column * 17)) % 65521 / 64f) + 0.3f + (a * 1e-3f);

    /// <summary>Runs every exchange on this rank, throws on the first wrong value, and returns the digest of all received data.</summary>
    public static string Exchange(ICommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(comm);
        var digest = new Digest();
        BlockExchange(comm, digest);
        PackedRows(comm, digest);
        MoeRoundTrip(comm, digest);
        Reductions(comm, digest);
        comm.Barrier();
        return digest.ToString();
    }

    /// <summary>AllToAll of 3 ints per rank, then of empty blocks.</summary>
    public static void BlockExchange(ICommunicator comm, Digest digest)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(digest);
        int size = comm.Size, rank = comm.Rank;
        const int block = 3;
        var send = new int[size * block];
        for (var b = 0; b < size; b++)
        {
            for (var k = 0; k < block; k++)
            {
                send[(b * block) + k] = (rank * 1000) + (b * 10) + k;
            }
        }

        var recv = new int[size * block];
        comm.AllToAll(send, recv);
        var expected = new int[size * block];
        for (var a = 0; a < size; a++)
        {
            for (var k = 0; k < block; k++)
            {
                expected[(a * block) + k] = (a * 1000) + (rank * 10) + k;
            }
        }

        Expect(recv, expected, rank, "AllToAll");
        digest.Add<int>(recv);
        comm.AllToAll(ReadOnlySpan<int>.Empty, Span<int>.Empty);
    }

    /// <summary>AllToAllV of rows packed in rank order with uneven counts; the receive buffer is longer and its tail must stay untouched.</summary>
    public static void PackedRows(ICommunicator comm, Digest digest)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(digest);
        int size = comm.Size, rank = comm.Rank;
        var sendCounts = new int[size];
        var recvCounts = new int[size];
        for (var p = 0; p < size; p++)
        {
            sendCounts[p] = PackedCount(rank, p, size);
            recvCounts[p] = PackedCount(p, rank, size);
        }

        var send = new List<float>();
        for (var p = 0; p < size; p++)
        {
            for (var i = 0; i < sendCounts[p]; i++)
            {
                for (var c = 0; c < RowLength; c++)
                {
                    send.Add(Value(rank, p, i, c));
                }
            }
        }

        var expected = new List<float>();
        for (var p = 0; p < size; p++)
        {
            for (var i = 0; i < recvCounts[p]; i++)
            {
                for (var c = 0; c < RowLength; c++)
                {
                    expected.Add(Value(p, rank, i, c));
                }
            }
        }

        for (var c = 0; c < RowLength + 3; c++)
        {
            expected.Add(Sentinel);
        }

        var recv = new float[expected.Count];
        recv.AsSpan().Fill(Sentinel);
        comm.AllToAllV(CollectionsMarshal.AsSpan(send), sendCounts, recv, recvCounts, RowLength);
        Expect(recv, CollectionsMarshal.AsSpan(expected), rank, "AllToAllV (packed)");
        digest.Add<float>(recv);

        var zeros = new int[size];
        comm.AllToAllV(ReadOnlySpan<float>.Empty, zeros, Span<float>.Empty, zeros, RowLength);
    }

    /// <summary>
    /// The MoE exchange: per-expert counts, rows into expert-contiguous buffers (segmented on
    /// both sides, then packed per rank on the send side), a local "expert", and the way back.
    /// </summary>
    public static void MoeRoundTrip(ICommunicator comm, Digest digest)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(digest);
        int size = comm.Size, rank = comm.Rank;
        const int local = ExpertsPerRank;
        var experts = local * size;

        // This rank's tokens, sorted by expert (so by destination rank).
        var tokens = Tokens(rank, size);
        var order = new List<int>();
        for (var t = 0; t < tokens; t++)
        {
            order.Add(t);
        }

        order.Sort((a, b) => ExpertOf(rank, a, experts) != ExpertOf(rank, b, experts)
            ? ExpertOf(rank, a, experts).CompareTo(ExpertOf(rank, b, experts))
            : a.CompareTo(b));
        var counts = new int[experts];
        var rows = new float[tokens * Dim];
        for (var k = 0; k < order.Count; k++)
        {
            counts[ExpertOf(rank, order[k], experts)]++;
            for (var c = 0; c < Dim; c++)
            {
                rows[(k * Dim) + c] = Value(rank, 0, order[k], c);
            }
        }

        // (1) counts per expert.
        var recvCounts = new int[experts];
        comm.AllToAll(counts, recvCounts);
        var expectedCounts = new int[experts];
        for (var p = 0; p < size; p++)
        {
            for (var t = 0; t < Tokens(p, size); t++)
            {
                var e = ExpertOf(p, t, experts);
                if (e / local == rank)
                {
                    expectedCounts[(p * local) + (e % local)]++;
                }
            }
        }

        Expect(recvCounts, expectedCounts, rank, "AllToAll (expert counts)");
        digest.Add<int>(recvCounts);

        // (2) rows into expert-contiguous buffers.
        var sendOffsets = new int[experts];
        ExchangeLayout.Packed(counts, sendOffsets);
        var recvOffsets = new int[experts];
        var expertStarts = new int[local + 1];
        var received = ExchangeLayout.ExpertMajor(recvCounts, local, recvOffsets, expertStarts);
        var expertRows = new float[(received + 1) * Dim];
        expertRows.AsSpan().Fill(Sentinel);
        comm.AllToAllV(rows, counts, sendOffsets, expertRows, recvCounts, recvOffsets, Dim);

        var expectedRows = new List<float>();
        for (var j = 0; j < local; j++)
        {
            for (var p = 0; p < size; p++)
            {
                for (var t = 0; t < Tokens(p, size); t++)
                {
                    if (ExpertOf(p, t, experts) == (rank * local) + j)
                    {
                        for (var c = 0; c < Dim; c++)
                        {
                            expectedRows.Add(Value(p, 0, t, c));
                        }
                    }
                }
            }

            if (expectedRows.Count != expertStarts[j + 1] * Dim)
            {
                throw new InvalidOperationException($"rank {rank}: local expert {j} should end at row {expectedRows.Count / Dim}, ExpertMajor says {expertStarts[j + 1]}");
            }
        }

        for (var c = 0; c < Dim; c++)
        {
            expectedRows.Add(Sentinel);
        }

        Expect(expertRows, CollectionsMarshal.AsSpan(expectedRows), rank, "AllToAllV (segmented, into expert-contiguous rows)");
        digest.Add<float>(expertRows);

        // The same rows with the send side packed per rank (one segment per peer): only totals must agree.
        var perRank = new int[size];
        for (var e = 0; e < experts; e++)
        {
            perRank[e / local] += counts[e];
        }

        var perRankOffsets = new int[size];
        ExchangeLayout.Packed(perRank, perRankOffsets);
        var again = new float[expertRows.Length];
        again.AsSpan().Fill(Sentinel);
        comm.AllToAllV(rows, perRank, perRankOffsets, again, recvCounts, recvOffsets, Dim);
        Expect(again, expertRows, rank, "AllToAllV (packed send, segmented recv)");

        // (3) the local experts: y = x · (g + 1) + 0.25 for global expert g.
        var outputs = new float[received * Dim];
        for (var j = 0; j < local; j++)
        {
            for (var i = expertStarts[j] * Dim; i < expertStarts[j + 1] * Dim; i++)
            {
                outputs[i] = (expertRows[i] * ((rank * local) + j + 1)) + 0.25f;
            }
        }

        // (4) back, with the reverse counts and offsets, then "combine" into token order.
        var back = new float[tokens * Dim];
        comm.AllToAllV(outputs, recvCounts, recvOffsets, back, counts, sendOffsets, Dim);
        var combined = new float[tokens * Dim];
        var expectedCombined = new float[tokens * Dim];
        for (var k = 0; k < order.Count; k++)
        {
            var t = order[k];
            var e = ExpertOf(rank, t, experts);
            for (var c = 0; c < Dim; c++)
            {
                combined[(t * Dim) + c] = back[(k * Dim) + c];
                expectedCombined[(t * Dim) + c] = (Value(rank, 0, t, c) * (e + 1)) + 0.25f;
            }
        }

        Expect(combined, expectedCombined, rank, "AllToAllV (reverse, back to the tokens)");
        digest.Add<float>(combined);
    }

    /// <summary>Sums over ranks, floats in rank order; also empty ones.</summary>
    public static void Reductions(ICommunicator comm, Digest digest)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentNullException.ThrowIfNull(digest);
        int size = comm.Size, rank = comm.Rank;
        const int length = 7;
        var floats = new float[length];
        var ints = new int[length];
        for (var k = 0; k < length; k++)
        {
            floats[k] = FloatTerm(rank, k);
            ints[k] = (rank * 100) + k - 3;
        }

        comm.AllReduceSum(floats);
        comm.AllReduceSum(ints);
        var expectedFloats = new float[length];
        var expectedInts = new int[length];
        for (var k = 0; k < length; k++)
        {
            var sum = FloatTerm(0, k);
            var total = 0;
            for (var p = 1; p < size; p++)
            {
                sum += FloatTerm(p, k);
            }

            for (var p = 0; p < size; p++)
            {
                total += (p * 100) + k - 3;
            }

            expectedFloats[k] = sum;
            expectedInts[k] = total;
        }

        Expect(floats, expectedFloats, rank, "AllReduceSum(float)");
        Expect(ints, expectedInts, rank, "AllReduceSum(int)");
        digest.Add<float>(floats);
        digest.Add<int>(ints);
        comm.AllReduceSum(Span<float>.Empty);
        comm.AllReduceSum(Span<int>.Empty);
    }

    /// <summary>Terms of very different magnitudes, so that adding them in another order changes the bits.</summary>
    public static float FloatTerm(int rank, int k) => rank switch
    {
        0 => 1e8f + (k * 3),
        1 => -1e8f + (k * 0.7f),
        2 => 1.5f + (k * 1.37e-3f),
        _ => 0.1f * (rank + k),
    };

    public static void Expect<T>(ReadOnlySpan<T> actual, ReadOnlySpan<T> expected, int rank, string what)
        where T : unmanaged, IEquatable<T>
    {
        if (actual.Length != expected.Length)
        {
            throw new InvalidOperationException($"rank {rank}: {what}: {actual.Length} values, expected {expected.Length}");
        }

        for (var i = 0; i < actual.Length; i++)
        {
            // Equals on float compares bits except for NaN and ±0, which these values never are.
            if (!actual[i].Equals(expected[i]))
            {
                throw new InvalidOperationException(
                    string.Create(CultureInfo.InvariantCulture, $"rank {rank}: {what}: element {i} is {actual[i]}, expected {expected[i]}"));
            }
        }
    }

    public static void Expect<T>(T[] actual, T[] expected, int rank, string what)
        where T : unmanaged, IEquatable<T> => Expect((ReadOnlySpan<T>)actual, expected, rank, what);

    public static void Expect<T>(T[] actual, ReadOnlySpan<T> expected, int rank, string what)
        where T : unmanaged, IEquatable<T> => Expect((ReadOnlySpan<T>)actual, expected, rank, what);
}

/// <summary>FNV-1a over the bits of everything added.</summary>
public sealed class Digest
{
    private ulong _hash = 14695981039346656037UL;

    public void Add<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        foreach (var b in MemoryMarshal.AsBytes(values))
        {
            _hash = (_hash ^ b) * 1099511628211UL;
        }
    }

    public void Add<T>(T[] values)
        where T : unmanaged => Add((ReadOnlySpan<T>)values);

    public override string ToString() => _hash.ToString("x16", CultureInfo.InvariantCulture);
}
