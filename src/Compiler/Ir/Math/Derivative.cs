using System.Collections.Generic;
using System.Linq;
using static Wudao.Compiler.Ir.Math.E;

namespace Wudao.Compiler.Ir.Math;

/// <summary>
/// Symbolic differentiation of a <see cref="MathFunction"/>: f′ is derived from f's own formula,
/// so an activation added to the table gets its backward fragment on every target with no
/// hand-written derivative (and differentiates exactly what the forward computes, approximations
/// such as the erf polynomial included).
/// </summary>
public static class Derivative
{
    private static readonly Dictionary<MathFunction, MathFunction> Cache = new();

    /// <summary>
    /// f′ as a function of the same parameter, named <c>{f.Name}Grad</c>. The same instance is
    /// returned for the same f, so a kernel declares each derivative once.
    /// </summary>
    public static MathFunction Of(MathFunction f)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(f, out var derivative))
            {
                derivative = Build(f);
                Cache[f] = derivative;
            }

            return derivative;
        }
    }

    private static MathFunction Build(MathFunction f)
    {
        // Forward mode through the steps: each step s gets a partner ds = ∂s/∂x after it.
        var partners = new Dictionary<string, Expr> { [f.Parameter] = 1f };
        var steps = new List<(string Name, Expr Value)>();
        foreach (var (name, value) in f.Steps)
        {
            steps.Add((name, value));
            var d = D(value, partners);
            if (d is Num)
            {
                partners[name] = d;
            }
            else
            {
                steps.Add(("d_" + name, d));
                partners[name] = V("d_" + name);
            }
        }

        return new MathFunction(f.Name + "Grad", f.Parameter, D(f.Result, partners), steps.ToArray());
    }

    /// <summary>∂e/∂x, where <paramref name="partners"/> maps each variable in scope to its derivative.</summary>
    private static Expr D(Expr e, IReadOnlyDictionary<string, Expr> partners) => e switch
    {
        Num => 0f,
        Var v => partners.TryGetValue(v.Name, out var d) ? d : 0f,
        Negate n => Neg(D(n.Operand, partners)),
        Binary b => Binary(b, D(b.Left, partners), D(b.Right, partners)),
        Call c => Mul(Of(c.Function).Apply(c.Argument), D(c.Argument, partners)),
        Primitive p => Primitive(p, p.Args.Select(a => D(a, partners)).ToArray()),
        _ => throw new CompileException($"cannot differentiate {e.GetType().Name}"),
    };

    private static Expr Binary(Binary b, Expr dl, Expr dr) => b.Op switch
    {
        '+' => Add(dl, dr),
        '-' => Sub(dl, dr),
        '*' => Add(Mul(dl, b.Right), Mul(b.Left, dr)),

        // (l/r)′ = l′/r − l·r′/r²
        '/' => Sub(Div(dl, b.Right), Div(Mul(b.Left, dr), Mul(b.Right, b.Right))),
        _ => throw new CompileException($"cannot differentiate the operator '{b.Op}'"),
    };

    private static Expr Primitive(Primitive p, Expr[] d) => p.Name switch
    {
        "exp" => Mul(p, d[0]),
        "log" => Div(d[0], p.Args[0]),
        "abs" => IsZero(d[0]) ? 0f : IfNegative(p.Args[0], Neg(d[0]), d[0]),

        // The branch taken is differentiated; at a tie the derivative of the branch the forward took.
        "max" => IfLess(p.Args[0], p.Args[1], d[1], d[0]),
        "if_negative" => IsZero(d[1]) && IsZero(d[2]) ? 0f : IfNegative(p.Args[0], d[1], d[2]),
        "if_less" => IsZero(d[2]) && IsZero(d[3]) ? 0f : IfLess(p.Args[0], p.Args[1], d[2], d[3]),
        _ => throw new CompileException($"cannot differentiate the primitive '{p.Name}'"),
    };

    // Folding the zeros and ones that differentiation produces keeps the emitted code to what matters.
    private static bool IsZero(Expr e) => e is Num { Value: 0f };

    private static bool IsOne(Expr e) => e is Num { Value: 1f };

    private static Expr Add(Expr a, Expr b) => IsZero(a) ? b : IsZero(b) ? a : a is Num x && b is Num y ? x.Value + y.Value : a + b;

    private static Expr Sub(Expr a, Expr b) => IsZero(b) ? a : IsZero(a) ? Neg(b) : a is Num x && b is Num y ? x.Value - y.Value : a - b;

    private static Expr Mul(Expr a, Expr b) =>
        IsZero(a) || IsZero(b) ? 0f : IsOne(a) ? b : IsOne(b) ? a : a is Num x && b is Num y ? x.Value * y.Value : a * b;

    private static Expr Div(Expr a, Expr b) => IsZero(a) ? 0f : IsOne(b) ? a : a / b;

    private static Expr Neg(Expr a) => a switch
    {
        Num n => -n.Value,
        Negate n => n.Operand,
        _ => -a,
    };
}
