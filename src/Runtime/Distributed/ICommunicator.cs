using System;

namespace Wudao.Distributed;

/// <summary>
/// A group of <see cref="Size"/> ranks that exchange data collectively, as expert parallelism
/// needs: every MoE layer exchanges per-expert counts (<see cref="AllToAll"/>), then token rows
/// (<see cref="AllToAllV(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, ReadOnlySpan{int}, int)"/>),
/// runs its local experts and exchanges the rows back.
/// </summary>
/// <remarks>
/// Every method is collective: all ranks call it, in the same order, with consistent arguments
/// (the counts rank a sends to rank b equal the counts rank b expects from rank a). Results
/// depend only on the data, never on timing or on the implementation: the in-process and the
/// MPI communicator give bitwise identical results. A failed collective throws
/// <see cref="CommunicatorException"/>; the group is then unusable. Calls on one communicator
/// must not overlap (one thread drives a rank at a time). Send and receive buffers must not
/// overlap.
/// </remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This rank, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>The number of ranks in the group.</summary>
    int Size { get; }

    /// <summary>
    /// Exchanges equal blocks of ints: <paramref name="send"/> holds <see cref="Size"/> blocks of
    /// <c>send.Length / Size</c> ints, block b for rank b; afterwards block a of
    /// <paramref name="recv"/> holds what rank a sent to this rank. Both spans have the same
    /// length, a multiple of <see cref="Size"/> (zero allowed), the same on every rank.
    /// </summary>
    void AllToAll(ReadOnlySpan<int> send, Span<int> recv);

    /// <summary>
    /// Exchanges rows of <paramref name="rowLength"/> floats, packed in rank order:
    /// <paramref name="send"/> holds <c>sendCounts[0]</c> rows for rank 0, then
    /// <c>sendCounts[1]</c> rows for rank 1, …; afterwards <paramref name="recv"/> holds
    /// <c>recvCounts[0]</c> rows from rank 0, then <c>recvCounts[1]</c> rows from rank 1, ….
    /// Both count spans have <see cref="Size"/> entries; zero rows are allowed anywhere.
    /// Buffers may be longer than the rows they carry; the rest of <paramref name="recv"/> is
    /// left untouched.
    /// </summary>
    void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts, int rowLength);

    /// <summary>
    /// Exchanges rows of <paramref name="rowLength"/> floats in segments placed anywhere in the
    /// buffers, so a rank can receive rows straight into an expert-contiguous layout and send
    /// them back from it (no permutation pass). The count and offset spans hold
    /// <c>Size × S</c> entries (S ≥ 1 segments per peer, chosen per span pair and per rank):
    /// entries <c>[p·S, p·S + S)</c> describe the rows sent to (or received from) rank p, in
    /// order; offsets are in rows from the start of the buffer. The rows rank a sends to rank b
    /// form one ordered stream that fills rank b's segments for rank a in order, so only the
    /// totals per pair of ranks have to agree. Received segments must not overlap; see
    /// <see cref="ExchangeLayout"/> for the offsets of the usual layouts.
    /// </summary>
    void AllToAllV(
        ReadOnlySpan<float> send,
        ReadOnlySpan<int> sendCounts,
        ReadOnlySpan<int> sendOffsets,
        Span<float> recv,
        ReadOnlySpan<int> recvCounts,
        ReadOnlySpan<int> recvOffsets,
        int rowLength);

    /// <summary>
    /// Replaces <paramref name="values"/> on every rank by the elementwise sum over ranks,
    /// added in rank order (((r0 + r1) + r2) + …), so every rank and both implementations get
    /// the same bits. The length must be the same on every rank.
    /// </summary>
    void AllReduceSum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> on every rank by the elementwise sum over ranks (wrapping on overflow).</summary>
    void AllReduceSum(Span<int> values);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();
}
