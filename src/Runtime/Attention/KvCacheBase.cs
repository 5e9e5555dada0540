using System;

namespace Wudao.Attention;

/// <summary>
/// What every KV cache keeps on the host, whatever memory holds its keys and values: its sizes,
/// each sequence's length, and the checks on them. <see cref="KvCache"/> (host memory, native
/// attention) and <see cref="IlgpuKvCache"/> (device memory, ILGPU attention) share it.
/// </summary>
public abstract class KvCacheBase
{
    private readonly int[] _lengths;

    /// <summary>Checks the sizes (each at least 1); every sequence starts empty.</summary>
    protected KvCacheBase(int sequences, int capacity, int kvHeads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kvHeads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        Sequences = sequences;
        Capacity = capacity;
        KvHeads = kvHeads;
        HeadDim = headDim;
        _lengths = new int[sequences];
    }

    /// <summary>Sequences the cache holds (batch slots).</summary>
    public int Sequences { get; }

    /// <summary>Tokens each sequence can hold.</summary>
    public int Capacity { get; }

    /// <summary>Key/value heads per token.</summary>
    public int KvHeads { get; }

    /// <summary>Floats per head.</summary>
    public int HeadDim { get; }

    /// <summary>Tokens cached so far for a sequence.</summary>
    public int Length(int sequence) => _lengths[CheckSequence(sequence)];

    /// <summary>Forgets every sequence's tokens (the memory is kept).</summary>
    public void Reset() => Array.Clear(_lengths);

    /// <summary>Forgets one sequence's tokens, e.g. when its slot takes a new request.</summary>
    public void Reset(int sequence) => _lengths[CheckSequence(sequence)] = 0;

    /// <summary>Drops a sequence's tokens from <paramref name="length"/> on (rolls back rejected draft tokens, rewinds a benchmark).</summary>
    public void Truncate(int sequence, int length)
    {
        CheckSequence(sequence);
        if ((uint)length > (uint)_lengths[sequence])
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"sequence {sequence} holds {_lengths[sequence]} tokens; it can only be shortened");
        }

        _lengths[sequence] = length;
    }

    internal void SetLength(int sequence, int length) => _lengths[sequence] = length;

    /// <summary>Throws, naming the sequence and the capacity, when <paramref name="adding"/> tokens do not fit.</summary>
    internal void CheckRoom(int sequence, int adding)
    {
        if (adding > Capacity - _lengths[sequence])
        {
            throw AttentionChecks.Overflow(sequence, _lengths[sequence], adding, Capacity);
        }
    }

    /// <summary>
    /// Checks rows to append as they are to be stored (keys and values [n, KvHeads, HeadDim]) and
    /// that they fit; returns n.
    /// </summary>
    protected int RowsToAppend(int sequence, int keys, int values)
    {
        CheckSequence(sequence);
        var row = KvHeads * HeadDim;
        if (keys != values || keys % row != 0)
        {
            throw new ArgumentException($"keys ({keys} floats) and values ({values} floats) must both hold n rows of KvHeads·HeadDim = {row}");
        }

        var n = keys / row;
        CheckRoom(sequence, n);
        return n;
    }

    /// <summary>Checks a request to read one stored row (sequence, position, kv head) into <paramref name="length"/> floats.</summary>
    protected void CheckRow(int sequence, int position, int kvHead, int length)
    {
        CheckSequence(sequence);
        if ((uint)position >= (uint)_lengths[sequence])
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"sequence {sequence} holds {_lengths[sequence]} tokens");
        }

        if ((uint)kvHead >= (uint)KvHeads)
        {
            throw new ArgumentOutOfRangeException(nameof(kvHead), kvHead, $"the cache holds kv heads 0..{KvHeads - 1}");
        }

        if (length != HeadDim)
        {
            throw new ArgumentException($"the destination holds {length} floats; a row holds {HeadDim}", "destination");
        }
    }

    private int CheckSequence(int sequence)
    {
        if ((uint)sequence >= (uint)Sequences)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"the cache holds sequences 0..{Sequences - 1}");
        }

        return sequence;
    }
}
