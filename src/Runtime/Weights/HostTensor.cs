using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao;

/// <summary>A named float tensor in host memory, row-major.</summary>
public sealed class HostTensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of <paramref name="shape"/>; throws when the shape does not hold exactly its elements.</summary>
    public HostTensor(string name, float[] data, params int[] shape)
    {
        var length = shape.Aggregate(1L, (a, d) => d >= 0 ? a * d : throw new ArgumentOutOfRangeException(nameof(shape), $"{name}: dimension {d} is negative"));
        if (length != data.Length)
        {
            throw new ArgumentException($"{name}: shape [{string.Join(", ", shape)}] holds {length} elements but the data has {data.Length}", nameof(data));
        }

        Name = name;
        Data = data;
        Shape = shape;
    }

    /// <summary>The tensor's name, as in weight files.</summary>
    public string Name { get; }

    /// <summary>The elements, row-major.</summary>
    public float[] Data { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The name and shape, e.g. <c>gate.weight [64, 8]</c>.</summary>
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
