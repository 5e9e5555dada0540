using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao;

/// <summary>A named float tensor in host memory, row-major.</summary>
public sealed class HostTensor
{
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

    public string Name { get; }

    public float[] Data { get; }

    public IReadOnlyList<int> Shape { get; }

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
