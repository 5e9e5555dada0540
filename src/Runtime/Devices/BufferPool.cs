using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao;

/// <summary>
/// Reuses device buffers across calls. Sizes round up to powers of two, so calls with nearby
/// token counts share buffers; <see cref="Allocations"/> counts real device allocations.
/// </summary>
public sealed class BufferPool : IDisposable
{
    private readonly Dictionary<(Type, long), Stack<MemoryBuffer>> _free = new();
    private readonly List<MemoryBuffer> _all = new();
    private readonly Stack<ForwardScope.State> _scopes = new();
    private readonly object _lock = new();

    internal BufferPool(Accelerator accelerator)
    {
        Accelerator = accelerator;
    }

    /// <summary>The accelerator the pool allocates on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Largest length the power-of-two buckets can round up to.</summary>
    public const long MaxLength = 1L << 62;

    /// <summary>Device allocations made so far; steady repeated calls leave it unchanged.</summary>
    public int Allocations { get; private set; }

    /// <summary>Bytes of device memory the pool holds.</summary>
    public long BytesHeld { get; private set; }

    /// <summary>A buffer of at least <paramref name="length"/> elements (the length rounded up to a power of two), reused when a free one of that size exists, else newly allocated.</summary>
    public MemoryBuffer1D<T, Stride1D.Dense> Rent<T>(long length)
        where T : unmanaged
    {
        if (length < 0 || length > MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"a buffer holds 0 to 2^62 elements");
        }

        var bucket = Bucket(length);
        lock (_lock)
        {
            if (_free.TryGetValue((typeof(T), bucket), out var stack) && stack.Count > 0)
            {
                return (MemoryBuffer1D<T, Stride1D.Dense>)stack.Pop();
            }

            var buffer = Accelerator.Allocate1D<T>(bucket);
            _all.Add(buffer);
            Allocations++;
            BytesHeld += buffer.LengthInBytes;
            return buffer;
        }
    }

    /// <summary>Gives a buffer from <see cref="Rent{T}"/> back for later calls; it stays allocated.</summary>
    public void Return<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer)
        where T : unmanaged
    {
        lock (_lock)
        {
            var key = (typeof(T), buffer.Length);
            if (!_free.TryGetValue(key, out var stack))
            {
                _free[key] = stack = new Stack<MemoryBuffer>();
            }

            stack.Push(buffer);
        }
    }

    /// <summary>A pooled tensor of the given shape; dispose it to give the memory back.</summary>
    public DeviceTensor RentTensor(params int[] shape) => new(this, Rent<float>(Elements(shape)), shape.ToArray(), Elements(shape));

    /// <summary>Elements of a shape, checked: no negative dimension, no overflow.</summary>
    public static long Elements(IReadOnlyList<int> shape)
    {
        long length = 1;
        foreach (var d in shape)
        {
            length = d >= 0 ? checked(length * d) : throw new ArgumentOutOfRangeException(nameof(shape), $"dimension {d} is negative");
        }

        return length;
    }

    /// <summary>
    /// Scratch for one call: everything rented through it returns when it is disposed. Scopes are
    /// reused, so a steady stream of calls allocates no host memory for them either.
    /// </summary>
    public ForwardScope BeginScope()
    {
        lock (_lock)
        {
            return new ForwardScope(_scopes.Count > 0 ? _scopes.Pop() : new ForwardScope.State(this));
        }
    }

    internal void Recycle(ForwardScope.State scope)
    {
        lock (_lock)
        {
            _scopes.Push(scope);
        }
    }

    /// <summary>Frees every buffer the pool allocated, rented or not.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var b in _all)
            {
                b.Dispose();
            }

            _all.Clear();
            _free.Clear();
        }
    }

    private static long Bucket(long length)
    {
        long b = 1;
        while (b < length)
        {
            b <<= 1;
        }

        return b;
    }
}
