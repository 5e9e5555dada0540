using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir.Math;
using static Wudao.Compiler.Ir.Math.E;

namespace Wudao.Compiler.Ir;

/// <summary>
/// One activation: its IR op, the value of <c>Wudao.Activation</c> that selects it, and its formula.
/// A gated activation (GLU family) reads rows of twice the hidden width, [gate | up], and computes
/// f(gate)·up. Adding an activation is one entry here: the op, its shape rule and its code on every
/// target follow from it.
/// </summary>
public sealed class ActivationDef
{
    public ActivationDef(string op, string kind, int value, MathFunction function, bool gated, string description)
    {
        Op = op;
        Kind = kind;
        Value = value;
        Function = function;
        Gated = gated;
        Description = description;
    }

    /// <summary>The IR op name (<c>gelu</c>, <c>swiglu</c>).</summary>
    public string Op { get; }

    /// <summary>The IR op of its gradient (<c>gelu_grad</c>).</summary>
    public string GradOp => Op + "_grad";

    /// <summary>f′, derived from <see cref="Function"/>'s formula.</summary>
    public MathFunction Derivative => Math.Derivative.Of(Function);

    /// <summary>The member name of <c>Wudao.Activation</c> (<c>Gelu</c>, <c>SwiGlu</c>).</summary>
    public string Kind { get; }

    /// <summary>The numeric value of that member.</summary>
    public int Value { get; }

    /// <summary>f, applied to the whole row, or to the gate half of a gated activation.</summary>
    public MathFunction Function { get; }

    public bool Gated { get; }

    public string Description { get; }

    /// <summary>Input columns per output column: 2 for a gated activation.</summary>
    public int Width => Gated ? 2 : 1;

    /// <summary>The methods of <see cref="Function"/> and every function it calls, callees first, in <paramref name="dialect"/>.</summary>
    public string Declare(MathDialect dialect) => string.Join("\n", Function.WithDependencies().Select(f => f.Declare(dialect)));

    /// <summary>The activation of one value (and its up value, if gated) in <paramref name="dialect"/>.</summary>
    public string Render(MathDialect dialect, string x, string up)
    {
        var f = Function.Apply(V(x)).Render(dialect);
        return Gated ? $"{f} * {up}" : f;
    }
}

/// <summary>The activation table.</summary>
public static class Activations
{
    /// <summary>erf by Abramowitz &amp; Stegun 7.1.26 (|error| &lt; 1.5e-7); GELU and the noisy router's Φ share it.</summary>
    public static readonly MathFunction Erf = new(
        "Erf",
        "z",
        IfNegative(V("z"), -V("r"), V("r")),
        ("ax", Abs(V("z"))),
        ("t", 1f / (1f + (0.3275911f * V("ax")))),
        ("p", ((((((((1.061405429f * V("t")) - 1.453152027f) * V("t")) + 1.421413741f) * V("t")) - 0.284496736f) * V("t")) + 0.254829592f) * V("t")),
        ("r", 1f - (V("p") * Exp(-(V("ax") * V("ax"))))));

    /// <summary>Exact GELU, PyTorch's default: x·Φ(x).</summary>
    public static readonly MathFunction Gelu = new("Gelu", "x", 0.5f * V("x") * (1f + Erf.Apply(V("x") * 0.70710677f)));

    public static readonly MathFunction Silu = new("Silu", "x", V("x") / (1f + Exp(-V("x"))));

    /// <summary>max(0, x), with NaN passing through (as torch.relu).</summary>
    public static readonly MathFunction Relu = new("Relu", "x", IfNegative(V("x"), 0f, V("x")));

    public static readonly IReadOnlyList<ActivationDef> All = new[]
    {
        new ActivationDef(Ops.Gelu, "Gelu", 0, Gelu, false, "GELU with exact erf (PyTorch's default)"),
        new ActivationDef(Ops.Relu, "Relu", 1, Relu, false, "max(0, x)"),
        new ActivationDef(Ops.Silu, "Silu", 2, Silu, false, "x·sigmoid(x)"),
        new ActivationDef(Ops.SwiGlu, "SwiGlu", 3, Silu, true, "silu(x·W_gate)·(x·W_up), the first weight [gate | up]"),
        new ActivationDef(Ops.GeGlu, "GeGlu", 4, Gelu, true, "gelu(x·W_gate)·(x·W_up), the first weight [gate | up] (Gemma, T5 v1.1)"),
    };

    public static ActivationDef ByOp(string op) =>
        All.FirstOrDefault(a => a.Op == op) ?? throw new CompileException($"'{op}' is not an activation (known: {string.Join(", ", All.Select(a => a.Op))})");

    public static ActivationDef? ByValue(int value) => All.FirstOrDefault(a => a.Value == value);

    public static bool IsActivation(string op) => All.Any(a => a.Op == op);

    /// <summary>Every function the activations and routers in <paramref name="ops"/> need, declared once each, callees first.</summary>
    public static string Declarations(IEnumerable<string> ops, MathDialect dialect)
    {
        var list = ops.ToList();
        var roots = list.Where(IsActivation).Select(op => ByOp(op).Function).Concat(RouterFunctions.For(list));
        return string.Join("\n", roots.SelectMany(f => f.WithDependencies()).Distinct().Select(f => f.Declare(dialect)));
    }
}
