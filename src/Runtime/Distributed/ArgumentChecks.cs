using System;

namespace Wudao.Distributed;

/// <summary>Argument checks shared by the communicators; each throws <see cref="ArgumentException"/> with the offending entry.</summary>
internal static class ArgumentChecks
{
    internal static void Block(int size, int sendLength, int recvLength)
    {
        if (sendLength != recvLength)
        {
            throw new ArgumentException($"AllToAll: send has {sendLength} ints but recv has {recvLength}; both must hold {size} equal blocks");
        }

        if (sendLength % size != 0)
        {
            throw new ArgumentException($"AllToAll: {sendLength} ints do not split into {size} equal blocks");
        }
    }

    /// <summary>Checks one side of a row exchange and returns its segments per peer.</summary>
    internal static int Rows(string side, int size, int bufferLength, ReadOnlySpan<int> counts, ReadOnlySpan<int> offsets, int rowLength)
    {
        if (rowLength < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rowLength), rowLength, "AllToAllV: a row holds at least one float");
        }

        if (counts.Length != offsets.Length)
        {
            throw new ArgumentException($"AllToAllV: {side} has {counts.Length} counts but {offsets.Length} offsets");
        }

        if (counts.Length == 0 || counts.Length % size != 0)
        {
            throw new ArgumentException($"AllToAllV: {side} has {counts.Length} counts; it needs {size} × segments (at least one segment per rank)");
        }

        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] < 0 || offsets[i] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(counts), $"AllToAllV: {side} segment {i} has count {counts[i]} and offset {offsets[i]}; neither may be negative");
            }

            if (((long)offsets[i] + counts[i]) * rowLength > bufferLength)
            {
                throw new ArgumentException(
                    $"AllToAllV: {side} segment {i} (rows {offsets[i]}..{(long)offsets[i] + counts[i]} of {rowLength} floats) runs past the buffer of {bufferLength} floats");
            }
        }

        return counts.Length / size;
    }

    /// <summary>Received segments with rows must not overlap (their writes would race).</summary>
    internal static void Disjoint(ReadOnlySpan<int> counts, ReadOnlySpan<int> offsets)
    {
        var packed = counts.Length <= 256 ? stackalloc long[counts.Length] : new long[counts.Length];
        var n = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] > 0)
            {
                packed[n++] = ((long)offsets[i] << 32) | (uint)i;
            }
        }

        var used = packed[..n];
        used.Sort();
        long end = 0;
        for (var k = 0; k < used.Length; k++)
        {
            var offset = (int)(used[k] >> 32);
            var i = (int)(used[k] & 0xFFFFFFFF);
            if (k > 0 && offset < end)
            {
                throw new ArgumentException($"AllToAllV: recv segment {i} (rows {offset}..{offset + counts[i]}) overlaps an earlier segment ending at row {end}");
            }

            end = Math.Max(end, (long)offset + counts[i]);
        }
    }

    internal static long Total(ReadOnlySpan<int> counts)
    {
        long total = 0;
        foreach (var c in counts)
        {
            total += c;
        }

        return total;
    }

    internal static void NotOverlapping(ReadOnlySpan<float> send, Span<float> recv)
    {
        if (send.Overlaps(recv))
        {
            throw new ArgumentException("the send and recv buffers overlap");
        }
    }

    internal static void NotOverlapping(ReadOnlySpan<int> send, Span<int> recv)
    {
        if (send.Overlaps(recv))
        {
            throw new ArgumentException("the send and recv buffers overlap");
        }
    }
}
