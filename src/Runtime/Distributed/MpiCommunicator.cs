using System;
using System.Collections.Generic;

namespace Wudao.Distributed;

/// <summary>
/// One rank per process over MPI (OpenMPI's libmpi through <see cref="MpiNative"/>), on
/// MPI_COMM_WORLD: start the program with <c>mpirun -np N dotnet Program.dll</c>.
/// </summary>
/// <remarks>
/// <para>MPI is initialised (MPI_Init_thread, serialized) by the first <see cref="Create"/> of the
/// process, unless something else did, and finalised by <see cref="Shutdown"/>, once per
/// process: it cannot be initialised again afterwards. <see cref="Run"/> does both and aborts
/// the whole job when a rank fails. Calls from several threads are serialised.</para>
/// <para>Errors are returned, not fatal (MPI_ERRORS_RETURN), and become
/// <see cref="CommunicatorException"/>s with MPI_Error_string's text. MPI itself cannot tell
/// that a peer's counts disagree with this rank's, and a rank that dies leaves its peers
/// blocked until mpirun ends the job, which OpenMPI's mpirun does when any rank exits without
/// finalising or with a non-zero code. A rank that fails must therefore end the job
/// (<see cref="Abort"/>, as <see cref="Run"/> does), never just return.</para>
/// <para>Rows travel as one contiguous MPI datatype per row length (cached, freed on dispose),
/// so counts stay in rows: MPI_Alltoallv for packed rows, MPI_Alltoallw with an indexed
/// datatype per peer for segmented layouts. <see cref="AllReduceSum(Span{float})"/> gathers
/// every rank's values and adds them in rank order, as the in-process communicator does, so
/// both give the same bits; the int sum is MPI_Allreduce.</para>
/// </remarks>
public sealed unsafe partial class MpiCommunicator : ICommunicator
{
    private static readonly object Gate = new();
    private readonly Dictionary<int, nint> _rowTypes = new();
    private float[] _gathered = [];
    private bool _disposed;

    private MpiCommunicator(int rank, int size)
    {
        Rank = rank;
        Size = size;
    }

    /// <summary>Whether OpenMPI's libmpi can be loaded in this process; <see cref="UnavailableReason"/> says why not.</summary>
    public static bool IsAvailable => MpiNative.LoadError is null;

    /// <summary>Why MPI cannot be used here, or null when it can.</summary>
    public static string? UnavailableReason => MpiNative.LoadError;

    /// <summary>The thread support MPI granted (MPI_THREAD_SINGLE = 0 … MPI_THREAD_MULTIPLE = 3), or -1 before initialisation.</summary>
    public static int ThreadLevel { get; private set; } = -1;

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>
    /// A communicator over MPI_COMM_WORLD, initialising MPI on first use. Throws a
    /// <see cref="CommunicatorException"/> when libmpi cannot be loaded or MPI was finalised.
    /// </summary>
    public static MpiCommunicator Create()
    {
        lock (Gate)
        {
            if (MpiNative.LoadError is { } reason)
            {
                throw new CommunicatorException($"MPI is not available: {reason}");
            }

            int flag;
            Check(MpiNative.Finalized(&flag), "MPI_Finalized", -1);
            if (flag != 0)
            {
                throw new CommunicatorException("MPI was already finalised in this process; it can be initialised only once");
            }

            Check(MpiNative.Initialized(&flag), "MPI_Initialized", -1);
            if (flag == 0)
            {
                int provided;
                Check(MpiNative.InitThread(null, null, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread", -1);
                ThreadLevel = provided;
            }

            Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler", -1);
            int rank, size;
            Check(MpiNative.CommRank(MpiNative.CommWorld, &rank), "MPI_Comm_rank", -1);
            Check(MpiNative.CommSize(MpiNative.CommWorld, &size), "MPI_Comm_size", -1);
            return new MpiCommunicator(rank, size);
        }
    }

    /// <summary>
    /// Runs one rank's program: creates the communicator, runs <paramref name="body"/>, then
    /// finalises MPI and returns the body's exit code (1, with the reason on stderr, when MPI
    /// cannot start). A body that throws (the exception is
    /// written to stderr with the rank) or returns non-zero ends the whole job with MPI_Abort,
    /// so no peer is left waiting; mpirun then exits non-zero.
    /// </summary>
    public static int Run(Func<MpiCommunicator, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        MpiCommunicator comm;
        try
        {
            comm = Create();
        }
        catch (CommunicatorException ex)
        {
            Console.Error.WriteLine($"cannot start an MPI rank: {ex.Message}");
            return 1;
        }

        int code;
        try
        {
            code = body(comm);
        }
#pragma warning disable CA1031 // a failed rank must end the job, whatever failed
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"rank {comm.Rank} of {comm.Size} failed: {ex}");
            Console.Error.Flush();
            comm.Abort(1);
            return 1;
        }

        if (code != 0)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"rank {comm.Rank} of {comm.Size} exited with code {code}; aborting the job");
            Console.Error.Flush();
            comm.Abort(code);
            return code;
        }

        comm.Dispose();
        Shutdown();
        return 0;
    }

    /// <summary>
    /// Finalises MPI (MPI_Finalize, collective: every rank calls it) if it is initialised and not
    /// yet finalised. Call it once at the end of a rank's program; never while a peer may still
    /// wait in a collective.
    /// </summary>
    public static void Shutdown()
    {
        lock (Gate)
        {
            if (MpiNative.LoadError is not null)
            {
                return;
            }

            int initialized, finalized;
            Check(MpiNative.Initialized(&initialized), "MPI_Initialized", -1);
            Check(MpiNative.Finalized(&finalized), "MPI_Finalized", -1);
            if (initialized != 0 && finalized == 0)
            {
                Check(MpiNative.Finalize(), "MPI_Finalize", -1);
            }
        }
    }

    /// <summary>Ends every rank of the job with <paramref name="errorCode"/> (MPI_Abort); does not return normally.</summary>
    public void Abort(int errorCode)
    {
        lock (Gate)
        {
            _ = MpiNative.Abort(MpiNative.CommWorld, errorCode);
        }

        Environment.Exit(errorCode == 0 ? 1 : errorCode);
    }

    /// <inheritdoc/>
    public void AllToAll(ReadOnlySpan<int> send, Span<int> recv)
    {
        ArgumentChecks.Block(Size, send.Length, recv.Length);
        ArgumentChecks.NotOverlapping(send, recv);
        var block = send.Length / Size;
        int dummy = 0;
        lock (Gate)
        {
            ThrowIfDisposed();
            fixed (int* s = send, r = recv)
            {
                Check(
                    MpiNative.Alltoall(s == null ? &dummy : s, block, MpiNative.Int, r == null ? &dummy : r, block, MpiNative.Int, MpiNative.CommWorld),
                    "MPI_Alltoall",
                    Rank);
            }
        }
    }

    /// <inheritdoc/>
    public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts, int rowLength)
    {
        if (sendCounts.Length != Size || recvCounts.Length != Size)
        {
            throw new ArgumentException($"AllToAllV: sendCounts and recvCounts need {Size} entries (one per rank), have {sendCounts.Length} and {recvCounts.Length}");
        }

        var sendOffsets = Size <= 256 ? stackalloc int[Size] : new int[Size];
        var recvOffsets = Size <= 256 ? stackalloc int[Size] : new int[Size];
        ExchangeLayout.Packed(sendCounts, sendOffsets);
        ExchangeLayout.Packed(recvCounts, recvOffsets);
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
        var sendSegments = ArgumentChecks.Rows("send", Size, send.Length, sendCounts, sendOffsets, rowLength);
        var recvSegments = ArgumentChecks.Rows("recv", Size, recv.Length, recvCounts, recvOffsets, rowLength);
        ArgumentChecks.Disjoint(recvCounts, recvOffsets);
        ArgumentChecks.NotOverlapping(send, recv);
        float dummy = 0;
        lock (Gate)
        {
            ThrowIfDisposed();
            var row = RowType(rowLength);
            fixed (float* s0 = send, r0 = recv)
            fixed (int* sc = sendCounts, so = sendOffsets, rc = recvCounts, ro = recvOffsets)
            {
                var s = s0 == null ? &dummy : s0;
                var r = r0 == null ? &dummy : r0;
                if (sendSegments == 1 && recvSegments == 1)
                {
                    // Displacements are in units of the row datatype's extent: rows.
                    Check(MpiNative.Alltoallv(s, sc, so, row, r, rc, ro, row, MpiNative.CommWorld), "MPI_Alltoallv", Rank);
                    return;
                }

                SegmentedExchange(s, sc, so, sendSegments, r, rc, ro, recvSegments, row);
            }
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<float> values)
    {
        // Gather, then add in rank order: the same bits on every rank and as InProcessCommunicator.
        var length = values.Length;
        var total = (long)length * Size;
        if (total > Array.MaxLength)
        {
            throw new ArgumentException($"AllReduceSum: {length} floats × {Size} ranks exceed one array", nameof(values));
        }

        lock (Gate)
        {
            ThrowIfDisposed();
            if (_gathered.Length < total)
            {
                _gathered = new float[total];
            }

            float dummy = 0;
            fixed (float* v = values, g = _gathered)
            {
                Check(
                    MpiNative.Allgather(v == null ? &dummy : v, length, MpiNative.Float, g == null ? &dummy : g, length, MpiNative.Float, MpiNative.CommWorld),
                    "MPI_Allgather",
                    Rank);
            }

            var sum = values;
            _gathered.AsSpan(0, length).CopyTo(sum);
            for (var p = 1; p < Size; p++)
            {
                var add = _gathered.AsSpan(p * length, length);
                for (var k = 0; k < length; k++)
                {
                    sum[k] += add[k];
                }
            }
        }
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<int> values)
    {
        int dummy = 0;
        lock (Gate)
        {
            ThrowIfDisposed();
            fixed (int* v = values)
            {
                Check(
                    MpiNative.Allreduce(MpiNative.InPlace, v == null ? &dummy : v, values.Length, MpiNative.Int, MpiNative.OpSum, MpiNative.CommWorld),
                    "MPI_Allreduce",
                    Rank);
            }
        }
    }

    /// <inheritdoc/>
    public void Barrier()
    {
        lock (Gate)
        {
            ThrowIfDisposed();
            Check(MpiNative.Barrier(MpiNative.CommWorld), "MPI_Barrier", Rank);
        }
    }

    /// <summary>Frees the cached row datatypes (unless MPI is already finalised). Does not finalise MPI: see <see cref="Shutdown"/>.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            int finalized;
            if (MpiNative.Finalized(&finalized) != MpiNative.Success || finalized != 0)
            {
                _rowTypes.Clear();
                return;
            }

            foreach (var type in _rowTypes.Values)
            {
                var t = type;
                _ = MpiNative.TypeFree(&t);
            }

            _rowTypes.Clear();
        }
    }

    /// <summary>"MPI rank r of n", for logs and errors.</summary>
    public override string ToString() => $"MPI rank {Rank} of {Size}";

    private static void Check(int code, string call, int rank)
    {
        if (code != MpiNative.Success)
        {
            var who = rank >= 0 ? $"rank {rank}: " : string.Empty;
            throw new CommunicatorException($"{who}{call} failed: {MpiNative.Describe(code)} (MPI error {code})", null);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
