using System;
using System.Collections.Generic;

namespace Wudao.Distributed;

/// <summary>The MPI datatypes rows travel as: one contiguous type per row length, indexed types for segmented layouts.</summary>
public sealed unsafe partial class MpiCommunicator
{
    /// <summary>The committed contiguous datatype of <paramref name="rowLength"/> floats, created once per length.</summary>
    private nint RowType(int rowLength)
    {
        if (_rowTypes.TryGetValue(rowLength, out var type))
        {
            return type;
        }

        nint created;
        Check(MpiNative.TypeContiguous(rowLength, MpiNative.Float, &created), "MPI_Type_contiguous", Rank);
        var rc = MpiNative.TypeCommit(&created);
        if (rc != MpiNative.Success)
        {
            _ = MpiNative.TypeFree(&created);
            Check(rc, "MPI_Type_commit", Rank);
        }

        _rowTypes[rowLength] = created;
        return created;
    }

    /// <summary>MPI_Alltoallw with one indexed datatype per peer and side, built from its segments and freed after the call.</summary>
    private void SegmentedExchange(float* send, int* sendCounts, int* sendOffsets, int sendSegments, float* recv, int* recvCounts, int* recvOffsets, int recvSegments, nint row)
    {
        var types = new nint[2 * Size];
        var counts = new int[2 * Size];
        var displacements = new int[2 * Size];
        try
        {
            for (var p = 0; p < Size; p++)
            {
                types[p] = Indexed(sendCounts + ((long)p * sendSegments), sendOffsets + ((long)p * sendSegments), sendSegments, row, out counts[p]);
                types[Size + p] = Indexed(recvCounts + ((long)p * recvSegments), recvOffsets + ((long)p * recvSegments), recvSegments, row, out counts[Size + p]);
            }

            fixed (nint* t = types)
            fixed (int* c = counts, d = displacements)
            {
                Check(MpiNative.Alltoallw(send, c, d, t, recv, c + Size, d + Size, t + Size, MpiNative.CommWorld), "MPI_Alltoallw", Rank);
            }
        }
        finally
        {
            for (var i = 0; i < types.Length; i++)
            {
                if (types[i] != 0 && types[i] != row)
                {
                    var t = types[i];
                    _ = MpiNative.TypeFree(&t);
                }
            }
        }
    }

    private nint Indexed(int* counts, int* offsets, int segments, nint row, out int count)
    {
        long total = 0;
        for (var i = 0; i < segments; i++)
        {
            total += counts[i];
        }

        if (total == 0)
        {
            count = 0;
            return row;
        }

        nint type;
        Check(MpiNative.TypeIndexed(segments, counts, offsets, row, &type), "MPI_Type_indexed", Rank);
        var rc = MpiNative.TypeCommit(&type);
        if (rc != MpiNative.Success)
        {
            _ = MpiNative.TypeFree(&type);
            Check(rc, "MPI_Type_commit", Rank);
        }

        count = 1;
        return type;
    }
}
