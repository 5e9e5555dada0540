using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir;

/// <summary>What a kernel does with an op: a GEMM epilogue is applied to a GEMM's tile in registers.</summary>
public enum OpRole
{
    /// <summary>Computes on its own (a main loop, a reduction, a pass).</summary>
    Compute,

    /// <summary>Elementwise on a GEMM's output tile: bias, activations.</summary>
    Epilogue,

    /// <summary>Binds a weight; no work.</summary>
    Param,
}

/// <summary>The kind of an attribute's value, checked by the verifier.</summary>
public enum AttrKind
{
    Int,
    Float,
    Text,

    /// <summary>0 or 1.</summary>
    Flag,
}

/// <summary>One attribute an op takes; optional ones have their default in the op's rule.</summary>
public sealed record AttrDef(string Name, AttrKind Kind, bool Required = true)
{
    public static AttrDef Int(string name, bool required = true) => new(name, AttrKind.Int, required);

    public static AttrDef Float(string name, bool required = true) => new(name, AttrKind.Float, required);

    public static AttrDef Text(string name, bool required = true) => new(name, AttrKind.Text, required);

    public static AttrDef Flag(string name, bool required = true) => new(name, AttrKind.Flag, required);
}

/// <summary>
/// An op's definition, in one place: operands and results, attributes, its iteration space, its
/// role in a kernel, its type rule (dtype-aware), its gradient rule, and — for activations — the
/// formula every target's code is rendered from (<see cref="ActivationDef"/>).
/// </summary>
public sealed class OpDef
{
    public OpDef(string name, int operands, int results, IterationSpace space, AttrDef[] attributes, Func<Node, IReadOnlyList<TensorType>, TensorType[]> infer, OpRole role = OpRole.Compute, ActivationDef? activation = null)
    {
        Name = name;
        Operands = operands;
        Results = results;
        Space = space;
        Attributes = attributes;
        Infer = infer;
        Role = role;
        Activation = activation;
    }

    public string Name { get; }

    public int Operands { get; }

    public int Results { get; }

    public IterationSpace Space { get; }

    public IReadOnlyList<AttrDef> Attributes { get; }

    public IEnumerable<string> RequiredAttributes => Attributes.Where(a => a.Required).Select(a => a.Name);

    /// <summary>Result types from operand types; throws <see cref="CompileException"/> on a mismatch.</summary>
    public Func<Node, IReadOnlyList<TensorType>, TensorType[]> Infer { get; }

    public OpRole Role { get; }

    /// <summary>The activation this op is, or null.</summary>
    public ActivationDef? Activation { get; }

    public bool IsEpilogue => Role == OpRole.Epilogue;

    /// <summary>
    /// The op's vector-Jacobian product (<see cref="Gradients.None"/> when no gradient flows through
    /// it); null while no rule is written, which the autodiff pass refuses by name.
    /// </summary>
    public GradientRule? Gradient { get; init; }
}
