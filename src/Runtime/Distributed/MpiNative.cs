using System;
using System.Runtime.InteropServices;

namespace Wudao.Distributed;

/// <summary>
/// The thin binding over OpenMPI's libmpi (soname libmpi.so.40, OpenMPI 4.x): C entry points
/// as unmanaged function pointers and the predefined handles, which OpenMPI defines as the
/// addresses of exported globals (MPI_COMM_WORLD is &amp;ompi_mpi_comm_world, …). Handles are
/// pointers (<see cref="nint"/>), counts are int. Loaded once, on first use; set
/// WUDAO_MPI_LIBRARY to load another path or name.
/// </summary>
internal static unsafe class MpiNative
{
    public const string DefaultLibrary = "libmpi.so.40";
    public const string LibraryVariable = "WUDAO_MPI_LIBRARY";
    public const int Success = 0;
    public const int ThreadSerialized = 2;
    public const int MaxErrorString = 256;

    /// <summary>MPI_IN_PLACE, ((void *) 1) in OpenMPI.</summary>
    public static readonly void* InPlace = (void*)1;

    private static readonly object LoadLock = new();
    private static bool s_tried;
    private static string? s_error;

    public static nint Library { get; private set; }

    public static nint CommWorld { get; private set; }

    public static nint Int { get; private set; }

    public static nint Float { get; private set; }

    public static nint OpSum { get; private set; }

    public static nint ErrorsReturn { get; private set; }

    // int MPI_Initialized(int *flag); int MPI_Finalized(int *flag)
    public static delegate* unmanaged<int*, int> Initialized { get; private set; }

    public static delegate* unmanaged<int*, int> Finalized { get; private set; }

    // int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
    public static delegate* unmanaged<int*, byte***, int, int*, int> InitThread { get; private set; }

    // int MPI_Finalize(void)
    public static delegate* unmanaged<int> Finalize { get; private set; }

    // int MPI_Abort(MPI_Comm comm, int errorcode)
    public static delegate* unmanaged<nint, int, int> Abort { get; private set; }

    // int MPI_Comm_rank(MPI_Comm comm, int *rank); int MPI_Comm_size(MPI_Comm comm, int *size)
    public static delegate* unmanaged<nint, int*, int> CommRank { get; private set; }

    public static delegate* unmanaged<nint, int*, int> CommSize { get; private set; }

    // int MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler)
    public static delegate* unmanaged<nint, nint, int> CommSetErrhandler { get; private set; }

    // int MPI_Error_string(int errorcode, char *string, int *resultlen)
    public static delegate* unmanaged<int, byte*, int*, int> ErrorString { get; private set; }

    // int MPI_Barrier(MPI_Comm comm)
    public static delegate* unmanaged<nint, int> Barrier { get; private set; }

    // int MPI_Alltoall(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
    //                  void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Alltoall { get; private set; }

    // int MPI_Alltoallv(const void *sendbuf, const int sendcounts[], const int sdispls[], MPI_Datatype sendtype,
    //                   void *recvbuf, const int recvcounts[], const int rdispls[], MPI_Datatype recvtype, MPI_Comm comm)
    public static delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int> Alltoallv { get; private set; }

    // int MPI_Alltoallw(const void *sendbuf, const int sendcounts[], const int sdispls[], const MPI_Datatype sendtypes[],
    //                   void *recvbuf, const int recvcounts[], const int rdispls[], const MPI_Datatype recvtypes[], MPI_Comm comm)
    public static delegate* unmanaged<void*, int*, int*, nint*, void*, int*, int*, nint*, nint, int> Alltoallw { get; private set; }

    // int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
    public static delegate* unmanaged<void*, void*, int, nint, nint, nint, int> Allreduce { get; private set; }

    // int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype sendtype,
    //                   void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
    public static delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather { get; private set; }

    // int MPI_Type_contiguous(int count, MPI_Datatype oldtype, MPI_Datatype *newtype)
    public static delegate* unmanaged<int, nint, nint*, int> TypeContiguous { get; private set; }

    // int MPI_Type_indexed(int count, const int blocklengths[], const int displacements[], MPI_Datatype oldtype, MPI_Datatype *newtype)
    public static delegate* unmanaged<int, int*, int*, nint, nint*, int> TypeIndexed { get; private set; }

    // int MPI_Type_commit(MPI_Datatype *datatype); int MPI_Type_free(MPI_Datatype *datatype)
    public static delegate* unmanaged<nint*, int> TypeCommit { get; private set; }

    public static delegate* unmanaged<nint*, int> TypeFree { get; private set; }

    /// <summary>Why libmpi cannot be used, or null once it is loaded.</summary>
    public static string? LoadError
    {
        get
        {
            lock (LoadLock)
            {
                if (!s_tried)
                {
                    s_tried = true;
                    s_error = Load();
                }

                return s_error;
            }
        }
    }

    private static string? Load()
    {
        var name = Environment.GetEnvironmentVariable(LibraryVariable);
        if (string.IsNullOrEmpty(name))
        {
            name = DefaultLibrary;
        }

        if (!NativeLibrary.TryLoad(name, out var library))
        {
            return $"cannot load {name} (OpenMPI 4.x; on Debian or Ubuntu: apt-get install openmpi-bin libopenmpi-dev; or set {LibraryVariable})";
        }

        string? missing = null;
        nint Export(string symbol)
        {
            if (NativeLibrary.TryGetExport(library, symbol, out var address))
            {
                return address;
            }

            missing ??= symbol;
            return 0;
        }

        CommWorld = Export("ompi_mpi_comm_world");
        Int = Export("ompi_mpi_int");
        Float = Export("ompi_mpi_float");
        OpSum = Export("ompi_mpi_op_sum");
        ErrorsReturn = Export("ompi_mpi_errors_return");
        Initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export("MPI_Error_string");
        Barrier = (delegate* unmanaged<nint, int>)Export("MPI_Barrier");
        Alltoall = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Alltoall");
        Alltoallv = (delegate* unmanaged<void*, int*, int*, nint, void*, int*, int*, nint, nint, int>)Export("MPI_Alltoallv");
        Alltoallw = (delegate* unmanaged<void*, int*, int*, nint*, void*, int*, int*, nint*, nint, int>)Export("MPI_Alltoallw");
        Allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Export("MPI_Allgather");
        TypeContiguous = (delegate* unmanaged<int, nint, nint*, int>)Export("MPI_Type_contiguous");
        TypeIndexed = (delegate* unmanaged<int, int*, int*, nint, nint*, int>)Export("MPI_Type_indexed");
        TypeCommit = (delegate* unmanaged<nint*, int>)Export("MPI_Type_commit");
        TypeFree = (delegate* unmanaged<nint*, int>)Export("MPI_Type_free");
        if (missing is not null)
        {
            NativeLibrary.Free(library);
            return $"{name} does not export {missing}: it is not OpenMPI 4.x's libmpi";
        }

        Library = library;
        return null;
    }

    /// <summary>MPI_Error_string's text for an error code.</summary>
    public static string Describe(int code)
    {
        var text = stackalloc byte[MaxErrorString + 1];
        var length = 0;
        if (ErrorString(code, text, &length) != Success || length <= 0)
        {
            return $"MPI error {code}";
        }

        return Marshal.PtrToStringUTF8((nint)text, Math.Min(length, MaxErrorString));
    }
}
