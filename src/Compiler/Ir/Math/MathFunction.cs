using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir.Math;

/// <summary>
/// A one-argument function written as named steps and a result, declared as a method once per
/// generated class and dialect (e.g. <c>Erf</c>, <c>Gelu</c>); formulas call it by <see cref="Call"/>.
/// </summary>
public sealed class MathFunction
{
    public MathFunction(string name, string parameter, Expr result, params (string Name, Expr Value)[] steps)
    {
        Name = name;
        Parameter = parameter;
        Result = result;
        Steps = steps;
    }

    public string Name { get; }

    public string Parameter { get; }

    public IReadOnlyList<(string Name, Expr Value)> Steps { get; }

    public Expr Result { get; }

    public Expr Apply(Expr argument) => new Call(this, argument);

    /// <summary>The functions this one calls, deepest first, then itself: the order to declare them in.</summary>
    public IEnumerable<MathFunction> WithDependencies()
    {
        var seen = new List<MathFunction>();
        Visit(this, seen);
        return seen;
    }

    /// <summary>The method declaration in <paramref name="dialect"/>.</summary>
    public string Declare(MathDialect dialect)
    {
        var t = dialect.Type;
        var body = string.Concat(Steps.Select(s => $"    {t} {s.Name} = {s.Value.Render(dialect)};\n"));
        return $"private static {t} {dialect.FunctionName(Name)}({t} {Parameter})\n{{\n{body}    return {Result.Render(dialect)};\n}}\n";
    }

    private static void Visit(MathFunction f, List<MathFunction> seen)
    {
        if (seen.Contains(f))
        {
            return;
        }

        foreach (var callee in f.Steps.Select(s => s.Value).Append(f.Result).SelectMany(Calls))
        {
            Visit(callee, seen);
        }

        seen.Add(f);
    }

    private static IEnumerable<MathFunction> Calls(Expr e) => e switch
    {
        Call c => new[] { c.Function }.Concat(Calls(c.Argument)),
        Binary b => Calls(b.Left).Concat(Calls(b.Right)),
        Negate n => Calls(n.Operand),
        Primitive p => p.Args.SelectMany(Calls),
        _ => Enumerable.Empty<MathFunction>(),
    };
}
