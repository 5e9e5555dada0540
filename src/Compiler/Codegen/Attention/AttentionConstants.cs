using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The attention shape a model's kernels are emitted for, read from its attention node: heads,
/// kv heads (so the GQA group), the causal mask, RoPE, the softmax scale 1/√d and RoPE's
/// inverse frequencies become constants of the kernel bodies. A standalone <c>[AttentionKernel]</c>
/// has none and reads them from the call's shape.
/// </summary>
internal sealed record AttentionConstants(int Heads, int KvHeads, int HeadDim, bool Causal, bool Rope, float RopeBase)
{
    public static AttentionConstants From(Node attention) =>
        new(attention.IntAttr("heads"), attention.IntAttr("kv_heads"), attention.IntAttr("head_dim"), attention.Attr("causal") == "1", attention.Attr("rope") == "1", attention.Attr("rope_base") != null ? attention.FloatAttr("rope_base") : 0f);

    /// <summary>1/√d in fp32. A double square root rounded to float is the correctly rounded float one, so this is MathF's value bit for bit.</summary>
    public float Scale => 1f / (float)System.Math.Sqrt(HeadDim);

    /// <summary>
    /// 1 / base^(2i/d) for i &lt; d/2, in double and rounded once to fp32: the runtime's
    /// <c>AttentionShape</c> computes the same expression for standalone kernels (a test holds them equal).
    /// </summary>
    public float[] InverseFrequencies() =>
        Enumerable.Range(0, HeadDim / 2).Select(i => (float)(1.0 / System.Math.Pow(RopeBase, 2.0 * i / HeadDim))).ToArray();

    /// <summary>Where a kernel body reads a shape field when it is not a constant: C# expressions for heads, kv heads, causal, rope and the softmax scale.</summary>
    public sealed record Source(string Heads, string KvHeads, string Causal, string Rope, string Scale);

    /// <summary>
    /// The locals a body reads (any of heads, kvHeads, group, causal, rope): constants when
    /// <paramref name="c"/> is given, so the JIT and ILGPU fold the branches, else from <paramref name="source"/>.
    /// </summary>
    public static string Locals(AttentionConstants? c, Source source, string indent, params string[] names)
    {
        static string B(bool b) => b ? "true" : "false";
        var all = new Dictionary<string, (string Type, string Fixed, string Read)>
        {
            ["heads"] = ("int", c?.Heads.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "", source.Heads),
            ["kvHeads"] = ("int", c?.KvHeads.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "", source.KvHeads),
            ["group"] = ("int", c == null ? "" : (c.Heads / c.KvHeads).ToString(System.Globalization.CultureInfo.InvariantCulture), $"({source.Heads}) / ({source.KvHeads})"),
            ["causal"] = ("bool", c == null ? "" : B(c.Causal), source.Causal),
            ["rope"] = ("bool", c == null ? "" : B(c.Rope), source.Rope),
            ["scale"] = ("float", c == null ? "" : CSharpNames.Float(c.Scale), source.Scale),
        };
        return string.Join("\n", names.Select(n => indent + (c != null ? $"const {all[n].Type} {n} = {all[n].Fixed};" : $"{all[n].Type} {n} = {all[n].Read};")));
    }

    /// <summary>
    /// The kernel's <c>Refuses</c> and <c>InverseFrequencies</c>: a model's kernel runs only its own
    /// shape, and its RoPE table is a constant; a standalone one runs any, with the shape's table.
    /// </summary>
    public static string Members(AttentionConstants? c)
    {
        const string Shape = "global::Wudao.Attention.AttentionShape";
        const string Span = "global::System.ReadOnlySpan<float>";
        if (c == null)
        {
            return $"public static string? Refuses({Shape} shape) => null;\n\npublic static {Span} InverseFrequencies({Shape} shape) => shape.InverseFrequencies;";
        }

        var rope = c.Rope ? $"RoPE base {c.RopeBase.ToString("R", CultureInfo.InvariantCulture)}" : "no RoPE";
        var what = $"heads {c.Heads}, kv heads {c.KvHeads}, {(c.Causal ? "causal" : "not causal")}, {rope}, scale {c.Scale.ToString("R", CultureInfo.InvariantCulture)}";
        var refuses = $"public static string? Refuses({Shape} shape) =>\n    shape.Heads == {c.Heads} && shape.KvHeads == {c.KvHeads} && shape.Causal == {(c.Causal ? "true" : "false")} && shape.Rope == {(c.Rope ? "true" : "false")}{(c.Rope ? $" && shape.RopeBase == {CSharpNames.Float(c.RopeBase)}" : "")} && shape.Scale == {CSharpNames.Float(c.Scale)}\n        ? null\n        : $\"emitted for {what} as constants; the call's shape is {{shape}}\";";
        var table = c.Rope
            ? $"new float[] {{ {string.Join(", ", c.InverseFrequencies().Select(CSharpNames.Float))} }}"
            : "shape.InverseFrequencies";
        return $"{refuses}\n\n/// <summary>RoPE's inverse frequencies{(c.Rope ? ", constants of this kernel" : "")}.</summary>\npublic static {Span} InverseFrequencies({Shape} shape) => {table};";
    }
}
