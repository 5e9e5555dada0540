using System;

namespace Wudao.Models;

/// <summary>
/// Slices of one float buffer a model keeps across steps: a step takes what it needs in order and
/// the buffer only grows when a longer step comes. Kernels overwrite every slice they are given.
/// </summary>
public ref struct Workspace
{
    private Span<float> _rest;

    private Workspace(Span<float> buffer) => _rest = buffer;

    /// <summary>A workspace of <paramref name="floats"/> over <paramref name="buffer"/>, grown first if it is shorter.</summary>
    public static Workspace For(ref float[] buffer, long floats)
    {
        if (floats > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(floats), $"a step needs {floats} floats of activations, more than one array holds; send fewer tokens per step");
        }

        if (buffer.Length < floats)
        {
            buffer = new float[floats];
        }

        return new Workspace(buffer.AsSpan(0, (int)floats));
    }

    /// <summary>Where <paramref name="slice"/> starts in <paramref name="buffer"/>: kernels that split work over threads address the buffer, not the span.</summary>
    public static int OffsetOf(float[] buffer, ReadOnlySpan<float> slice)
    {
        var bytes = System.Runtime.CompilerServices.Unsafe.ByteOffset(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(buffer), ref System.Runtime.InteropServices.MemoryMarshal.GetReference(slice));
        var offset = (long)bytes / sizeof(float);
        if (offset < 0 || offset + slice.Length > buffer.Length)
        {
            throw new ArgumentException("the slice does not lie in the workspace buffer", nameof(slice));
        }

        return (int)offset;
    }

    /// <summary>The next <paramref name="floats"/> floats.</summary>
    public Span<float> Take(long floats)
    {
        var slice = _rest.Slice(0, checked((int)floats));
        _rest = _rest.Slice((int)floats);
        return slice;
    }
}
