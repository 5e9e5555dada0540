using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The attention shape a model's kernels are emitted for, read from its attention node: heads,
/// kv heads (so the GQA group), the causal mask and RoPE become constants of the kernel bodies.
/// A standalone <c>[AttentionKernel]</c> has none and reads them from the call's shape.
/// </summary>
internal sealed record AttentionConstants(int Heads, int KvHeads, bool Causal, bool Rope)
{
    public static AttentionConstants From(Node attention) =>
        new(attention.IntAttr("heads"), attention.IntAttr("kv_heads"), attention.Attr("causal") == "1", attention.Attr("rope") == "1");

    /// <summary>Where a kernel body reads a shape field when it is not a constant: C# expressions for heads, kv heads, causal, rope.</summary>
    public sealed record Source(string Heads, string KvHeads, string Causal, string Rope);

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
        };
        return string.Join("\n", names.Select(n => indent + (c != null ? $"const {all[n].Type} {n} = {all[n].Fixed};" : $"{all[n].Type} {n} = {all[n].Read};")));
    }

    /// <summary>The kernel's <c>Refuses</c>: a model's kernel runs only its own shape; a standalone one any.</summary>
    public static string Refuses(AttentionConstants? c)
    {
        const string Shape = "global::Wudao.Attention.AttentionShape";
        if (c == null)
        {
            return $"public static string? Refuses({Shape} shape) => null;";
        }

        var what = $"heads {c.Heads}, kv heads {c.KvHeads}, {(c.Causal ? "causal" : "not causal")}, {(c.Rope ? "RoPE" : "no RoPE")}";
        return $"public static string? Refuses({Shape} shape) =>\n    shape.Heads == {c.Heads} && shape.KvHeads == {c.KvHeads} && shape.Causal == {(c.Causal ? "true" : "false")} && shape.Rope == {(c.Rope ? "true" : "false")}\n        ? null\n        : $\"emitted for {what} as constants; the call's shape is {{shape}}\";";
    }
}
