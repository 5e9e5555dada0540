using System;

namespace Wudao.Attention;

/// <summary>
/// Keys and values of one attention layer for incremental decoding: a fixed capacity of tokens
/// per sequence, filled by <see cref="NativeAttention"/> calls that take the cache (a prefill
/// appends every prompt token, a decode step one per sequence). Keys are stored after RoPE, so
/// a decode step rotates only its own token.
/// </summary>
/// <remarks>
/// Storage is laid out for the kernel, not for reading: per sequence and kv head, keys in tiles of
/// <see cref="NativeAttention.KeyTile"/> tokens stored transposed ([dim][token] inside a tile, so
/// the score micro-kernel loads a row of keys per dimension), values row by row ([token][dim]).
/// <see cref="ReadKey"/> and <see cref="ReadValue"/> give one row back in the plain form.
/// </remarks>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private readonly int[] _lengths;

    public KvCache(int sequences, int capacity, int kvHeads, int headDim)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kvHeads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        Tiles = (capacity + NativeAttention.KeyTile - 1) / NativeAttention.KeyTile;
        var perSequence = (long)kvHeads * Tiles * NativeAttention.KeyTile * headDim;
        if (perSequence > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"one sequence's keys would need {perSequence} floats, more than an array holds");
        }

        Sequences = sequences;
        Capacity = capacity;
        KvHeads = kvHeads;
        HeadDim = headDim;
        _keys = new float[sequences][];
        _values = new float[sequences][];
        for (var s = 0; s < sequences; s++)
        {
            _keys[s] = new float[perSequence];
            _values[s] = new float[perSequence];
        }

        _lengths = new int[sequences];
    }

    public int Sequences { get; }

    /// <summary>Tokens each sequence can hold.</summary>
    public int Capacity { get; }

    public int KvHeads { get; }

    public int HeadDim { get; }

    /// <summary>Key tiles per (sequence, kv head): the capacity rounded up to whole tiles.</summary>
    internal int Tiles { get; }

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

    /// <summary>
    /// Appends tokens given as they are to be stored (keys already rotated): keys and values
    /// [n, KvHeads, HeadDim]. For restoring a cache; attention calls append by themselves.
    /// </summary>
    public void Append(int sequence, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        CheckSequence(sequence);
        var row = KvHeads * HeadDim;
        if (keys.Length != values.Length || keys.Length % row != 0)
        {
            throw new ArgumentException($"keys ({keys.Length} floats) and values ({values.Length} floats) must both hold n rows of KvHeads·HeadDim = {row}");
        }

        var n = keys.Length / row;
        CheckRoom(sequence, n);
        var start = _lengths[sequence];
        for (var t = 0; t < n; t++)
        {
            for (var g = 0; g < KvHeads; g++)
            {
                var src = ((t * KvHeads) + g) * HeadDim;
                for (var d = 0; d < HeadDim; d++)
                {
                    _keys[sequence][KeyIndex(g, start + t, d)] = keys[src + d];
                    _values[sequence][ValueIndex(g, start + t) + d] = values[src + d];
                }
            }
        }

        _lengths[sequence] = start + n;
    }

    /// <summary>Copies the stored (rotated) key of one token and kv head.</summary>
    public void ReadKey(int sequence, int position, int kvHead, Span<float> destination)
    {
        CheckRow(sequence, position, kvHead, destination.Length);
        for (var d = 0; d < HeadDim; d++)
        {
            destination[d] = _keys[sequence][KeyIndex(kvHead, position, d)];
        }
    }

    /// <summary>Copies the stored value of one token and kv head.</summary>
    public void ReadValue(int sequence, int position, int kvHead, Span<float> destination)
    {
        CheckRow(sequence, position, kvHead, destination.Length);
        _values[sequence].AsSpan(ValueIndex(kvHead, position), HeadDim).CopyTo(destination);
    }

    internal float[] Keys(int sequence) => _keys[sequence];

    internal float[] Values(int sequence) => _values[sequence];

    internal void SetLength(int sequence, int length) => _lengths[sequence] = length;

    /// <summary>Throws, naming the sequence and the capacity, when <paramref name="adding"/> tokens do not fit.</summary>
    internal void CheckRoom(int sequence, int adding)
    {
        if (adding > Capacity - _lengths[sequence])
        {
            throw AttentionChecks.Overflow(sequence, _lengths[sequence], adding, Capacity);
        }
    }

    private int KeyIndex(int kvHead, int position, int d) => KvTiles.Key(Tiles, HeadDim, kvHead, position) + (d * NativeAttention.KeyTile);

    private int ValueIndex(int kvHead, int position) => KvTiles.Value(Tiles, HeadDim, kvHead, position);

    private int CheckSequence(int sequence)
    {
        if ((uint)sequence >= (uint)Sequences)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"the cache holds sequences 0..{Sequences - 1}");
        }

        return sequence;
    }

    private void CheckRow(int sequence, int position, int kvHead, int length)
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
            throw new ArgumentException($"the destination holds {length} floats; a row holds {HeadDim}");
        }
    }
}
