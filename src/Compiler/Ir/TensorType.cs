using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir;

/// <summary>Element type and shape of a value; a scalar has rank 0 (<c>f32[]</c>).</summary>
public sealed class TensorType : IEquatable<TensorType>
{
    public TensorType(DType dtype, params Dim[] shape)
    {
        DType = dtype;
        Shape = shape;
    }

    public DType DType { get; }

    public IReadOnlyList<Dim> Shape { get; }

    public int Rank => Shape.Count;

    public static TensorType F32(params Dim[] shape) => new(DType.F32, shape);

    public static TensorType I32(params Dim[] shape) => new(DType.I32, shape);

    public bool Equals(TensorType? other) =>
        other is not null && DType == other.DType && Shape.SequenceEqual(other.Shape);

    public override bool Equals(object? obj) => Equals(obj as TensorType);

    public override int GetHashCode() => Shape.Aggregate((int)DType, (h, d) => (h * 31) + d.GetHashCode());

    public override string ToString() => $"{DType.ToText()}[{string.Join(",", Shape)}]";
}
