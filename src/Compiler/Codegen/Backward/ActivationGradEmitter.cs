using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;
using static Wudao.Compiler.Ir.Math.E;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The backward's activation spans, rendered from the registry's formula and its derived f′ in
/// three dialects (16 lanes when AVX-512 runs, 8 lanes, a scalar tail): the recomputed
/// activation over n columns, and its gradient. A gated activation reads its up half through
/// its own ref, so a span can be any run of columns (a weight tile's block, a whole row).
/// </summary>
internal static class ActivationGradEmitter
{
    private static readonly MathDialect[] Dialects = { MathDialect.Native, MathDialect.Vector512, MathDialect.Vector256 };

    public static string Activate(ActivationDef a) => "Activate" + a.Kind;

    public static string Gradient(ActivationDef a) => a.Kind + "Gradient";

    /// <summary>The span methods of the activations in <paramref name="ops"/> (forward or gradient op), and every function they call, declared once each.</summary>
    public static string Emit(IEnumerable<string> ops)
    {
        var list = ops.ToList();
        var used = Activations.All.Where(a => list.Contains(a.Op) || list.Contains(a.GradOp)).ToList();
        if (used.Count == 0)
        {
            return "";
        }

        var roots = used.Select(a => a.Function).Concat(used.Select(a => a.Derivative)).SelectMany(f => f.WithDependencies()).Distinct().ToList();
        var functions = string.Concat(Dialects.SelectMany(d => roots.Select(f => f.Declare(d) + "\n")));
        return functions + string.Concat(used.Select(a => Span(a) + "\n" + GradientSpan(a) + "\n"));
    }

    /// <summary><c>dst[c] = f(x[c])</c>, times <c>up[c]</c> when gated, for c &lt; n.</summary>
    private static string Span(ActivationDef a)
    {
        string Body(MathDialect d, string load) => $"{Store(d, a.Render(d, load + "(ref x, c)", load + "(ref up, c)"), "dst")}";
        return Loops(
            $"/// <summary>{a.Op} over n columns (recomputed from its saved input).</summary>\nprivate static void {Activate(a)}(ref float x, ref float up, ref float dst, int n)",
            Body);
    }

    /// <summary>dx = f′(x)·da; gated: d gate = f′(gate)·up·da, d up = f(gate)·da.</summary>
    private static string GradientSpan(ActivationDef a)
    {
        string Body(MathDialect d, string load)
        {
            string x = load + "(ref x, c)", up = load + "(ref up, c)", da = load + "(ref da, c)";
            var prime = a.Derivative.Apply(V(x)).Render(d);
            return a.Gated
                ? Store(d, $"({prime} * {up}) * {da}", "dx") + "\n" + Indent(Store(d, $"{a.Function.Apply(V(x)).Render(d)} * {da}", "dup"))
                : Store(d, $"{prime} * {da}", "dx");
        }

        return Loops(
            $"/// <summary>The {a.Op} gradient over n columns.</summary>\nprivate static void {Gradient(a)}(ref float x, ref float up, ref float da, ref float dx, ref float dup, int n)",
            Body);
    }

    private static string Loops(string header, System.Func<MathDialect, string, string> body) => $@"{header}
{{
    int c = 0;
    if (Wide)
    {{
        for (; c + 16 <= n; c += 16)
        {{
            {body(MathDialect.Vector512, "L512")}
        }}
    }}

    for (; c + 8 <= n; c += 8)
    {{
        {body(MathDialect.Vector256, "L256")}
    }}

    for (; c < n; c++)
    {{
        {body(MathDialect.Native, "At")}
    }}
}}
";

    private static string Store(MathDialect d, string value, string dst) => d == MathDialect.Native
        ? $"At(ref {dst}, c) = {value};"
        : $"{d.Type.Replace("<float>", "")}.StoreUnsafe({value}, ref {dst}, (nuint)c);";

    private static string Indent(string line) => "            " + line;

    /// <summary>Vector loads the span methods use.</summary>
    public const string Loads = @"private static global::System.Runtime.Intrinsics.Vector512<float> L512(ref float p, int c) => global::System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref p, (nuint)c);

private static global::System.Runtime.Intrinsics.Vector256<float> L256(ref float p, int c) => global::System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref p, (nuint)c);
";
}
