using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir;

/// <summary>The checks the ops' type rules are written with; each failure names the node and operand.</summary>
internal static class ShapeRules
{
    /// <summary>A norm's rows and its weight (and bias) of the row width.</summary>
    public static TensorType Norm(Node n, IReadOnlyList<TensorType> t, int weight)
    {
        var x = Rows(n, t[0], 2, 0);
        for (var i = weight; i < t.Count; i++)
        {
            Same(n, x.Shape[1], Rank(n, t[i], 1, i).Shape[0], "norm width");
        }

        return x;
    }

    public static TensorType Rank(Node n, TensorType t, int rank, int operand) =>
        t.Rank == rank ? t : throw new CompileException($"%{n.Name} = {n.Op}: operand {operand} must have rank {rank}, got {t}");

    /// <summary>Activations: f32 of the given rank (compute is fp32 whatever the weights' dtype).</summary>
    public static TensorType Rows(Node n, TensorType t, int rank, int operand)
    {
        Rank(n, t, rank, operand);
        return t.DType == DType.F32 ? t : throw new CompileException($"%{n.Name} = {n.Op}: operand {operand} must be f32 activations, got {t}");
    }

    /// <summary>A weight: stored as f32, bf16, f16 or i8 (block-scaled); read with fp32 accumulation.</summary>
    public static TensorType Weight(Node n, TensorType t, int rank, int operand)
    {
        Rank(n, t, rank, operand);
        return t.DType.IsWeight() ? t : throw new CompileException($"%{n.Name} = {n.Op}: operand {operand} must be a weight (f32, bf16, f16 or i8), got {t}");
    }

    public static void Same(Node n, Dim a, Dim b, string what)
    {
        if (a != b)
        {
            throw new CompileException($"%{n.Name} = {n.Op}: {what} differ ({a} vs {b})");
        }
    }

    public static void SameShape(Node n, TensorType a, TensorType b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
        {
            throw new CompileException($"%{n.Name} = {n.Op}: shapes {a} and {b} must match");
        }
    }

    /// <summary>A row-local backward op's saved value and cotangent: f32 rows of one shape, which the result has.</summary>
    public static TensorType Pair(Node n, IReadOnlyList<TensorType> t)
    {
        SameShape(n, Rows(n, t[0], 2, 0), t[1]);
        return t[0];
    }

    public static int Constant(Node n, Dim d, string what) =>
        d.IsSymbolic ? throw new CompileException($"%{n.Name} = {n.Op}: {what} must be a compile-time constant, got {d}") : d.Value;

    public static void TopK(Node n, int k, int experts)
    {
        if (k < 1 || k > experts)
        {
            throw new CompileException($"%{n.Name} = {n.Op}: k={k} must be in 1..{experts}");
        }
    }
}
