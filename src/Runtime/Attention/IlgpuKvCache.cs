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
public sealed class IlgpuKvCache : KvCacheBase, IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _keys;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _values;

    /// <summary>Allocates keys and values of <paramref name="sequences"/> × <paramref name="capacity"/> tokens on <paramref name="accelerator"/>; throws when they exceed int indexing.</summary>
    public IlgpuKvCache(Accelerator accelerator, int sequences, int capacity, int kvHeads, int headDim)
        : base(sequences, capacity, kvHeads, headDim)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        var floats = (long)sequences * capacity * kvHeads * headDim;
        if (floats > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"the keys would need {floats} floats, beyond the kernel's int indexing");
        }

        Accelerator = accelerator;
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
    }

    /// <summary>The accelerator the cache lives on; the attention that fills it must run there.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Stored keys, [Sequences, Capacity, KvHeads, HeadDim], rotated.</summary>
    internal ArrayView<float> Keys => _keys.View.BaseView;

    /// <summary>Stored values, [Sequences, Capacity, KvHeads, HeadDim].</summary>
    internal ArrayView<float> Values => _values.View.BaseView;

    /// <summary>
    /// Appends tokens given as they are to be stored (keys already rotated): keys and values
    /// [n, KvHeads, HeadDim] on the host. For restoring a cache; attention calls append by themselves.
    /// </summary>
    public void Append(int sequence, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        var n = RowsToAppend(sequence, keys.Length, values.Length);
        if (n == 0)
        {
            return;
        }

        var at = Row(sequence, Length(sequence)) * (long)(KvHeads * HeadDim);
        var stream = Accelerator.DefaultStream;
        _keys.View.SubView(at, keys.Length).CopyFromCPU(stream, keys);
        _values.View.SubView(at, values.Length).CopyFromCPU(stream, values);

        // The copies read the spans: they must be done before the caller may reuse them.
        stream.Synchronize();
        SetLength(sequence, Length(sequence) + n);
    }

    /// <summary>Copies the stored (rotated) key of one token and kv head (waits for pending work).</summary>
    public void ReadKey(int sequence, int position, int kvHead, Span<float> destination) =>
        ReadRow(_keys, sequence, position, kvHead, destination);

    /// <summary>Copies the stored value of one token and kv head (waits for pending work).</summary>
    public void ReadValue(int sequence, int position, int kvHead, Span<float> destination) =>
        ReadRow(_values, sequence, position, kvHead, destination);

    /// <summary>Frees the device keys and values.</summary>
    public void Dispose()
    {
        _keys.Dispose();
        _values.Dispose();
    }

    /// <summary>Cache row of a sequence's position: the index of its [KvHeads, HeadDim] block.</summary>
    internal int Row(int sequence, int position) => (sequence * Capacity) + position;

    private void ReadRow(MemoryBuffer1D<float, Stride1D.Dense> buffer, int sequence, int position, int kvHead, Span<float> destination)
    {
        CheckRow(sequence, position, kvHead, destination.Length);
        var stream = Accelerator.DefaultStream;
        stream.Synchronize();
        var at = ((Row(sequence, position) * (long)KvHeads) + kvHead) * HeadDim;
        buffer.View.SubView(at, HeadDim).CopyToCPU(stream, destination);
        stream.Synchronize();
    }
}
