using System;

namespace Wudao.Distributed;

/// <summary>
/// Row offsets for <see cref="ICommunicator.AllToAllV(ReadOnlySpan{float}, ReadOnlySpan{int}, ReadOnlySpan{int}, Span{float}, ReadOnlySpan{int}, ReadOnlySpan{int}, int)"/>.
/// </summary>
/// <remarks>
/// The MoE exchange on N ranks with L experts per rank (rank p owns experts p·L … p·L + L − 1):
/// <code>
/// // counts[e] = rows this rank sends to global expert e, rows packed by expert (so by rank)
/// comm.AllToAll(counts, recvCounts);                       // recvCounts[p·L + j]: rows from rank p for local expert j
/// ExchangeLayout.Packed(counts, sendOffsets);
/// ExchangeLayout.ExpertMajor(recvCounts, L, recvOffsets, expertStarts);
/// comm.AllToAllV(rows, counts, sendOffsets, expertRows, recvCounts, recvOffsets, dim);
/// // local expert j owns rows [expertStarts[j], expertStarts[j + 1]) of expertRows
/// comm.AllToAllV(expertOut, recvCounts, recvOffsets, outRows, counts, sendOffsets, dim);  // back
/// </code>
/// </remarks>
public static class ExchangeLayout
{
    /// <summary>
    /// Offsets of segments packed back to back in order: <c>offsets[i] = counts[0] + … + counts[i − 1]</c>.
    /// Returns the total number of rows.
    /// </summary>
    public static int Packed(ReadOnlySpan<int> counts, Span<int> offsets)
    {
        if (offsets.Length != counts.Length)
        {
            throw new ArgumentException($"offsets has {offsets.Length} entries but counts has {counts.Length}", nameof(offsets));
        }

        long total = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(counts), counts[i], $"counts[{i}] is negative");
            }

            offsets[i] = CheckedRows(total);
            total += counts[i];
        }

        return CheckedRows(total);
    }

    /// <summary>
    /// Offsets that place received rows expert-contiguously: <paramref name="counts"/> is
    /// rank-major (<c>counts[p·L + j]</c> = rows from rank p for local expert j, L =
    /// <paramref name="expertsPerRank"/>, as <see cref="ICommunicator.AllToAll"/> returns them);
    /// the rows of local expert j come first from rank 0, then rank 1, …, and the experts follow
    /// each other. <paramref name="expertStarts"/> (L + 1 entries) receives the first row of each
    /// expert and, last, the total, which is also returned.
    /// </summary>
    public static int ExpertMajor(ReadOnlySpan<int> counts, int expertsPerRank, Span<int> offsets, Span<int> expertStarts)
    {
        if (expertsPerRank < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(expertsPerRank), expertsPerRank, "at least one expert per rank");
        }

        if (counts.Length % expertsPerRank != 0)
        {
            throw new ArgumentException($"counts has {counts.Length} entries, not a multiple of {expertsPerRank} experts per rank", nameof(counts));
        }

        if (offsets.Length != counts.Length)
        {
            throw new ArgumentException($"offsets has {offsets.Length} entries but counts has {counts.Length}", nameof(offsets));
        }

        if (expertStarts.Length != expertsPerRank + 1)
        {
            throw new ArgumentException($"expertStarts needs {expertsPerRank + 1} entries, has {expertStarts.Length}", nameof(expertStarts));
        }

        var ranks = counts.Length / expertsPerRank;
        long total = 0;
        for (var j = 0; j < expertsPerRank; j++)
        {
            expertStarts[j] = CheckedRows(total);
            for (var p = 0; p < ranks; p++)
            {
                var i = (p * expertsPerRank) + j;
                if (counts[i] < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(counts), counts[i], $"counts[{i}] is negative");
                }

                offsets[i] = CheckedRows(total);
                total += counts[i];
            }
        }

        expertStarts[expertsPerRank] = CheckedRows(total);
        return (int)total;
    }

    private static int CheckedRows(long rows) =>
        rows <= int.MaxValue ? (int)rows : throw new ArgumentException($"{rows} rows in total exceed int.MaxValue");
}
