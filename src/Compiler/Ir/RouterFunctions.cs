using System.Collections.Generic;
using Wudao.Compiler.Ir.Math;
using static Wudao.Compiler.Ir.Math.E;

namespace Wudao.Compiler.Ir;

/// <summary>
/// The scalar functions the routers' ops compute, as formulas: declared into the generated kernel
/// class (in the ILGPU dialect, which the native schedule calls too, so both targets run one
/// body) for the ops a plan holds, next to the activations'.
/// </summary>
public static class RouterFunctions
{
    /// <summary>
    /// log(1 + e^x) without overflow; below −15 it is e^x to float precision, floored at 1e-30 (a
    /// normal float, so flush-to-zero devices keep it): noisy top-k divides by it, and 0/0 would be NaN.
    /// </summary>
    public static readonly MathFunction Softplus = new(
        "Softplus",
        "x",
        IfLess(V("x"), -15f, Max(Exp(V("x")), 1e-30f), IfLess(0f, V("x"), V("x"), 0f) + Log(1f + Exp(-Abs(V("x"))))));

    public static readonly MathFunction Sigmoid = new("Sigmoid", "x", 1f / (1f + Exp(-V("x"))));

    /// <summary>Standard normal CDF Φ(z) = (1 + erf(z/√2)) / 2: noisy top-k's load estimate.</summary>
    public static readonly MathFunction Phi = new("Phi", "z", 0.5f * (1f + Activations.Erf.Apply(V("z") * 0.70710677f)));

    /// <summary>The functions the router ops among <paramref name="ops"/> call: noisy (softplus, Φ), DeepSeek's sigmoid.</summary>
    public static IEnumerable<MathFunction> For(IEnumerable<string> ops)
    {
        foreach (var op in ops)
        {
            if (op == Ops.Noisy)
            {
                yield return Softplus;
                yield return Phi;
            }
            else if (op == Ops.Sigmoid)
            {
                yield return Sigmoid;
            }
        }
    }
}
