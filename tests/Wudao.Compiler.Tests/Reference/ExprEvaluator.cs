using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir.Math;

namespace Wudao.Compiler.Tests.Reference;

/// <summary>A formula in double, with the dialects' semantics (a NaN comparison takes the otherwise branch).</summary>
internal static class ExprEvaluator
{
    public static double Evaluate(MathFunction f, double x)
    {
        var env = new Dictionary<string, double> { [f.Parameter] = x };
        foreach (var (name, value) in f.Steps)
        {
            env[name] = Evaluate(value, env);
        }

        return Evaluate(f.Result, env);
    }

    public static double Evaluate(Expr e, IReadOnlyDictionary<string, double> env) => e switch
    {
        Num n => n.Value,
        Var v => env[v.Name],
        Negate n => -Evaluate(n.Operand, env),
        Binary b => b.Op switch
        {
            '+' => Evaluate(b.Left, env) + Evaluate(b.Right, env),
            '-' => Evaluate(b.Left, env) - Evaluate(b.Right, env),
            '*' => Evaluate(b.Left, env) * Evaluate(b.Right, env),
            _ => Evaluate(b.Left, env) / Evaluate(b.Right, env),
        },
        Call c => Evaluate(c.Function, Evaluate(c.Argument, env)),
        Primitive p => Primitive(p.Name, p.Args.Select(a => Evaluate(a, env)).ToArray()),
        _ => throw new InvalidOperationException(e.GetType().Name),
    };

    private static double Primitive(string name, double[] a) => name switch
    {
        "exp" => Math.Exp(a[0]),
        "log" => Math.Log(a[0]),
        "abs" => Math.Abs(a[0]),
        "max" => Math.Max(a[0], a[1]),
        "if_negative" => a[0] < 0 ? a[1] : a[2],
        "if_less" => a[0] < a[1] ? a[2] : a[3],
        _ => throw new InvalidOperationException(name),
    };
}
