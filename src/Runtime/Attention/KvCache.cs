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
public sealed class KvCache : KvCacheBase
{
    private readonly float[][] _keys;
    private readonly float[][] _values;

    /// <summary>Allocates host keys and values of <paramref name="sequences"/> × <paramref name="capacity"/> tokens; throws when one sequence exceeds an array.</summary>
    public KvCache(int sequences, int capacity, int kvHeads, int headDim)
        : base(sequences, capacity, kvHeads, headDim)
    {
        Tiles = (capacity + NativeAttention.KeyTile - 1) / NativeAttention.KeyTile;
        var perSequence = (long)kvHeads * Tiles * NativeAttention.KeyTile * headDim;
        if (perSequence > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"one sequence's keys would need {perSequence} floats, more than an array holds");
        }

        _keys = new float[sequences][];
        _values = new float[sequences][];
        for (var s = 0; s < sequences; s++)
        {
            _keys[s] = new float[perSequence];
            _values[s] = new float[perSequence];
        }
    }

    /// <summary>Key tiles per (sequence, kv head): the capacity rounded up to whole tiles.</summary>
    internal int Tiles { get; }

    /// <summary>
    /// Appends tokens given as they are to be stored (keys already rotated): keys and values
    /// [n, KvHeads, HeadDim]. For restoring a cache; attention calls append by themselves.
    /// </summary>
    public void Append(int sequence, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        var n = RowsToAppend(sequence, keys.Length, values.Length);
        var start = Length(sequence);
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

        SetLength(sequence, start + n);
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

    private int KeyIndex(int kvHead, int position, int d) => KvTiles.Key(Tiles, HeadDim, kvHead, position) + (d * NativeAttention.KeyTile);

    private int ValueIndex(int kvHead, int position) => KvTiles.Value(Tiles, HeadDim, kvHead, position);
}
