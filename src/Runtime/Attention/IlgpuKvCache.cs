using System;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao.Attention;

/// <summary>
/// <see cref="KvCache"/> for <see cref="IlgpuAttention"/>: keys and values of one attention layer
/// in device memory, a fixed capacity of tokens per sequence, filled by the cached
/// <see cref="IlgpuAttention"/> forward (a prefill appends every prompt token, a decode step one
/// per sequence). Keys are stored after RoPE, so a decode step rotates only its own token. The
/// lengths live on the host: the forward needs them to plan its launch, and checking room before
/// anything is queued is what lets an overflow change nothing.
/// </summary>
/// <remarks>
/// Layout: keys and values each [Sequences, Capacity, KvHeads, HeadDim], so a cached row has the
/// layout of a k/v row and the attention kernel addresses both alike (row sequence·Capacity +
/// position). <see cref="ReadKey"/> and <see cref="ReadValue"/> copy one row back to the host.
/// </remarks>
public sealed class IlgpuKvCache : IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _keys;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _values;
    private readonly int[] _lengths;

    public IlgpuKvCache(Accelerator accelerator, int sequences, int capacity, int kvHeads, int headDim)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kvHeads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        var floats = (long)sequences * capacity * kvHeads * headDim;
        if (floats > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the keys would need {floats} floats, beyond the kernel's int indexing");
        }

        Accelerator = accelerator;
        Sequences = sequences;
        Capacity = capacity;
        KvHeads = kvHeads;
        HeadDim = headDim;
        _keys = accelerator.Allocate1D<float>(floats);
        try
        {
            _values = accelerator.Allocate1D<float>(floats);
        }
        catch
        {
            _keys.Dispose();
            throw;
        }

        _keys.MemSetToZero();
        _values.MemSetToZero();
        _lengths = new int[sequences];
    }

    /// <summary>The accelerator the cache lives on; the attention that fills it must run there.</summary>
    public Accelerator Accelerator { get; }

    public int Sequences { get; }

    /// <summary>Tokens each sequence can hold.</summary>
    public int Capacity { get; }

    public int KvHeads { get; }

    public int HeadDim { get; }

    /// <summary>Stored keys, [Sequences, Capacity, KvHeads, HeadDim], rotated.</summary>
    internal ArrayView<float> Keys => _keys.View.BaseView;

    /// <summary>Stored values, [Sequences, Capacity, KvHeads, HeadDim].</summary>
    internal ArrayView<float> Values => _values.View.BaseView;

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
    /// [n, KvHeads, HeadDim] on the host. For restoring a cache; attention calls append by themselves.
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
        if (n == 0)
        {
            return;
        }

        var at = Row(sequence, _lengths[sequence]) * (long)row;
        var stream = Accelerator.DefaultStream;
        _keys.View.SubView(at, keys.Length).CopyFromCPU(stream, keys);
        _values.View.SubView(at, values.Length).CopyFromCPU(stream, values);

        // The copies read the spans: they must be done before the caller may reuse them.
        stream.Synchronize();
        _lengths[sequence] += n;
    }

    /// <summary>Copies the stored (rotated) key of one token and kv head (waits for pending work).</summary>
    public void ReadKey(int sequence, int position, int kvHead, Span<float> destination) =>
        ReadRow(_keys, sequence, position, kvHead, destination);

    /// <summary>Copies the stored value of one token and kv head (waits for pending work).</summary>
    public void ReadValue(int sequence, int position, int kvHead, Span<float> destination) =>
        ReadRow(_values, sequence, position, kvHead, destination);

    public void Dispose()
    {
        _keys.Dispose();
        _values.Dispose();
    }

    /// <summary>Cache row of a sequence's position: the index of its [KvHeads, HeadDim] block.</summary>
    internal int Row(int sequence, int position) => (sequence * Capacity) + position;

    internal void SetLength(int sequence, int length) => _lengths[sequence] = length;

    /// <summary>Throws, naming the sequence and the capacity, when <paramref name="adding"/> tokens do not fit.</summary>
    internal void CheckRoom(int sequence, int adding)
    {
        if (adding > Capacity - _lengths[sequence])
        {
            throw AttentionChecks.Overflow(sequence, _lengths[sequence], adding, Capacity);
        }
    }

    private void ReadRow(MemoryBuffer1D<float, Stride1D.Dense> buffer, int sequence, int position, int kvHead, Span<float> destination)
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

        if (destination.Length != HeadDim)
        {
            throw new ArgumentException($"the destination holds {destination.Length} floats; a row holds {HeadDim}", nameof(destination));
        }

        var stream = Accelerator.DefaultStream;
        stream.Synchronize();
        var at = ((Row(sequence, position) * (long)KvHeads) + kvHead) * HeadDim;
        buffer.View.SubView(at, HeadDim).CopyToCPU(stream, destination);
        stream.Synchronize();
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
