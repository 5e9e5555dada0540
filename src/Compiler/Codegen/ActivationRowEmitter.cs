using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native target's activation over one hidden row, rendered from the registry's formula in three
/// dialects: 16 lanes (when AVX-512 runs), 8 lanes, then a scalar tail. A gated activation reads
/// the row's up half at width + c. The destination may be the source row itself (in place).
/// </summary>
public static class ActivationRowEmitter
{
    private const string Unsafe = "global::System.Runtime.CompilerServices.Unsafe";

    /// <summary>
    /// <c>static void {name}(ref float row, ref float dst)</c> over <paramref name="width"/> output
    /// columns (the row holds 2 × width for a gated activation), and every function it calls.
    /// </summary>
    public static string Emit(ActivationDef activation, string name, string width, string wide)
    {
        var functions = string.Concat(new[] { MathDialect.Native, MathDialect.Vector512, MathDialect.Vector256 }.Select(d => activation.Declare(d) + "\n"));

        var up = activation.Gated ? $"\n        float u = {Unsafe}.Add(ref row, {width} + c);" : "";
        return functions + $@"/// <summary>{activation.Op} ({activation.Description}) over one row into dst (which may be the row).</summary>
private static void {name}(ref float row, ref float dst)
{{
    int c = 0;
    if ({wide})
    {{
        for (; c + 16 <= {width}; c += 16)
        {{
{Vector(activation, MathDialect.Vector512, "Vector512", width, "            ")}
        }}
    }}

    for (; c + 8 <= {width}; c += 8)
    {{
{Vector(activation, MathDialect.Vector256, "Vector256", width, "        ")}
    }}

    for (; c < {width}; c++)
    {{
        float x = {Unsafe}.Add(ref row, c);{up}
        {Unsafe}.Add(ref dst, c) = {activation.Render(MathDialect.Native, "x", "u")};
    }}
}}
";
    }

    private static string Vector(ActivationDef a, MathDialect dialect, string vector, string width, string indent)
    {
        var v = "global::System.Runtime.Intrinsics." + vector;
        var up = a.Gated ? $"\n{indent}var u = {v}.LoadUnsafe(ref row, (nuint)({width} + c));" : "";
        return $@"{indent}var x = {v}.LoadUnsafe(ref row, (nuint)c);{up}
{indent}{v}.StoreUnsafe({a.Render(dialect, "x", "u")}, ref dst, (nuint)c);";
    }
}
