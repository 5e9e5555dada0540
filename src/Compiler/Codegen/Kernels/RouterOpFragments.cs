using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// One per-token fragment per router op, for token <c>ti</c>: each reads its operands and writes
/// its results through the kernel's <see cref="TokenFrame"/>, with its sizes from the op's types
/// and attributes. A per-token gate is these fragments in node order (ILGPU C#, which both
/// targets run), so a new router op is one entry here, not a new router template.
/// </summary>
internal static class RouterOpFragments
{
    /// <summary>An op's fragment: what it computes (its comment), whether its results are choice values [T, k], the buffer a result other kernels read binds to, and whether it reads <c>args</c>.</summary>
    public sealed record TokenOp(string What, bool Choices, string? Buffer, bool NeedsArgs, System.Func<Node, TokenFrame, string> Body);

    private static readonly Dictionary<string, TokenOp> Table = new()
    {
        [Ops.MatMul] = new("router logits, one GEMV (the native schedule computes it vectorised for several tokens and passes it ready)", false, null, false, MatMul),
        [Ops.Noisy] = new("H = logits + ε·softplus(raw) (Shazeer 2017); ε only while training, so inference routes on H = logits", false, null, true, Noisy),
        [Ops.Sigmoid] = new("each expert's affinity score on its own (DeepSeek-V3), not a softmax", false, null, false, (n, f) => $@"for (int e = 0; e < {f.Width(n.Operands[0])}; e++)
{{
    {f.Row(n.Results[0], "e")} = DeviceSigmoid({f.Row(n.Operands[0], "e")});
}}"),
        [Ops.TopK] = new("the k largest, ties to the lower expert", true, null, false, (n, f) => TopK(n, f, f.Row(n.Operands[0], "e"), "bestV")),
        [Ops.TopKBiased] = new("chosen on score + bias; the gate keeps the bare score", true, null, false, (n, f) => TopK(n, f, $"{f.Row(n.Operands[0], "e")} + {f.Name(n.Operands[1])}[e]", f.Row(n.Operands[0], "best"))),
        [Ops.Softmax] = new("over the k chosen values", true, null, false, Softmax),
        [Ops.Renorm] = new("the chosen gates normalised to sum 1", true, null, false, Renorm),
        [Ops.LoadProb] = new("P(x, e) = Φ((logits_e − kth_excl(H, k, e)) / softplus(raw_e)); kth_excl is the k-th largest H among the other experts", false, "pload", false, LoadProb),
        [Ops.AppendShared] = new("every token also goes through the shared experts, with gate 1", true, null, false, (n, f) => $@"for (int j = {f.Width(n.Operands[0])}; j < {f.Width(n.Results[0])}; j++)
{{
    {f.Choice(n.Results[1], "j")} = {n.IntAttr("routed")} + (j - {f.Width(n.Operands[0])});
    {f.Choice(n.Results[0], "j")} = 1f;
}}"),
        [Ops.HashRoute] = new("the token id alone picks the expert (Roller 2021); the gate is 1", true, null, false, (n, f) => $@"{f.Choice(n.Results[1], "0")} = global::Wudao.TokenHash.Expert({f.Name(n.Operands[0])}[ti], {n.IntAttr("experts")});
{f.Choice(n.Results[0], "0")} = 1f;"),
    };

    public static TokenOp Get(PlannedKernel k, Node n) => Table.TryGetValue(n.Op, out var op)
        ? op
        : throw new KernelAssemblyException($"k{k.Index}: no per-token fragment for %{n.Name} = {n.Op} in [{string.Join(", ", k.OpNames)}]");

    /// <summary>The op's fragment in a block of its own (its locals stay its own), under its IR line and what it computes.</summary>
    public static string Render(PlannedKernel k, Node n, TokenFrame f)
    {
        var op = Get(k, n);
        var line = $"{string.Join(", ", n.Results.Select(r => "%" + r))} = {n.Op} {string.Join(", ", n.Operands.Select(o => "%" + o))}";
        return $"// {line}: {op.What}.\n{{\n{RouterTokenFragments.Indent(op.Body(n, f))}\n}}\n";
    }

    private static string MatMul(Node n, TokenFrame f) => $@"if (!ready)
{{
    for (int e = 0; e < {f.Width(n.Results[0])}; e++)
    {{
        float acc = 0f;
        for (int d = 0; d < {f.Dim}; d++)
        {{
            acc += {f.Name(n.Operands[0])}[xo + d] * {f.Name(n.Operands[1])}[((long)d * {f.Width(n.Results[0])}) + e];
        }}

        {f.Row(n.Results[0], "e")} = acc;
    }}
}}";

    private static string Noisy(Node n, TokenFrame f)
    {
        var e = f.Width(n.Results[0]);
        return $@"for (int e = 0; e < {e}; e++)
{{
    float eps = args.Training != 0 ? global::Wudao.CounterRng.Normal(args.SeedLo, args.SeedHi ^ global::Wudao.CounterRng.NoiseStream, args.Step, unchecked(((args.TokenBase + ti) * {e}) + e)) : 0f;
    {f.Row(n.Results[0], "e")} = {f.Row(n.Operands[0], "e")} + (eps * DeviceSoftplus({f.Row(n.Operands[1], "e")}));
}}";
    }

    private static string TopK(Node n, TokenFrame f, string value, string gate) =>
        RouterTokenFragments.TopKPasses(n.IntAttr("k").ToString(System.Globalization.CultureInfo.InvariantCulture), f.Width(n.Operands[0]).ToString(System.Globalization.CultureInfo.InvariantCulture), value, gate, f.Choice(n.Results[1], "j"), f.Choice(n.Results[0], "j")).TrimEnd();

    private static string Softmax(Node n, TokenFrame f)
    {
        if (f.IsRow(n.Operands[0]))
        {
            throw new KernelAssemblyException($"%{n.Name} = softmax: a per-token gate takes the softmax of chosen values only; over router logits it is the softmax gate's");
        }

        string In(string j) => f.Choice(n.Operands[0], j);
        string Out(string j) => f.Choice(n.Results[0], j);
        var k = f.Width(n.Operands[0]);
        return $@"float top = {In("0")};
for (int j = 1; j < {k}; j++)
{{
    top = {In("j")} > top ? {In("j")} : top;
}}

float sum = 0f;
for (int j = 0; j < {k}; j++)
{{
    float v = global::ILGPU.Algorithms.XMath.Exp({In("j")} - top);
    {Out("j")} = v;
    sum += v;
}}

for (int j = 0; j < {k}; j++)
{{
    {Out("j")} = {Out("j")} / sum;
}}";
    }

    private static string Renorm(Node n, TokenFrame f)
    {
        var k = f.Width(n.Operands[0]);
        return $@"float sum = 0f;
for (int j = 0; j < {k}; j++)
{{
    sum += {f.Choice(n.Operands[0], "j")};
}}

for (int j = 0; j < {k}; j++)
{{
    {f.Choice(n.Results[0], "j")} = {f.Choice(n.Operands[0], "j")} / sum;
}}";
    }

    /// <summary>
    /// Ranks H as topk does (k + 1 passes): the k-th pick (kv, ke) bounds the chosen set, the
    /// (k+1)-th is what a chosen expert must stay above. With k = E there is none, and P = 1.
    /// </summary>
    private static string LoadProb(Node n, TokenFrame f)
    {
        var (logits, raw, h) = (n.Operands[0], n.Operands[1], n.Operands[2]);
        var e = f.Width(h);
        var k = n.IntAttr("k");
        return $@"float prevV = float.PositiveInfinity;
int prevE = -1;
float kv = float.NaN;
int ke = -1;
float next = 0f;
bool found = false;
for (int j = 0; j <= {k}; j++)
{{
    int best = -1;
    float bestV = 0f;
    for (int e = 0; e < {e}; e++)
    {{
        float v = {f.Row(h, "e")};
        bool eligible = v < prevV || (v == prevV && e > prevE);
        if (eligible && (best < 0 || v > bestV))
        {{
            best = e;
            bestV = v;
        }}
    }}

    if (j < {k})
    {{
        kv = best < 0 ? float.NaN : bestV;
        ke = best;
    }}
    else
    {{
        next = bestV;
        found = best >= 0;
    }}

    prevV = bestV;
    prevE = best;
}}

for (int e = 0; e < {e}; e++)
{{
    float v = {f.Row(h, "e")};
    bool taken = ke >= 0 && (v > kv || (v == kv && e <= ke));
    float threshold = taken ? next : kv;
    {f.Row(n.Results[0], "e")} = taken && !found ? 1f : DevicePhi(({f.Row(logits, "e")} - threshold) / DeviceSoftplus({f.Row(raw, "e")}));
}}";
    }
}
