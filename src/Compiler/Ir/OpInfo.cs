using System;
using System.Collections.Generic;

namespace Wudao.Compiler.Ir;

/// <summary>What the compiler knows about one op kind: arity, iteration space and shape rule.</summary>
public sealed class OpInfo
{
    public OpInfo(string name, int operands, int results, IterationSpace space, string[] requiredAttributes, Func<Node, IReadOnlyList<TensorType>, TensorType[]> infer)
    {
        Name = name;
        Operands = operands;
        Results = results;
        Space = space;
        RequiredAttributes = requiredAttributes;
        Infer = infer;
    }

    public string Name { get; }

    public int Operands { get; }

    public int Results { get; }

    public IterationSpace Space { get; }

    public IReadOnlyList<string> RequiredAttributes { get; }

    /// <summary>Result types from operand types; throws <see cref="CompileException"/> on a mismatch.</summary>
    public Func<Node, IReadOnlyList<TensorType>, TensorType[]> Infer { get; }

    /// <summary>True for ops applied element by element to a GEMM tile (a GEMM epilogue).</summary>
    public bool IsEpilogue => Name is Ops.Bias or Ops.Gelu or Ops.Relu or Ops.Silu or Ops.SwiGlu;
}
