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
    /// <summary>Where an op's results live: router-width rows, choice values [T, k], where its operand lives (softmax: over a row or over the choices), or nowhere, applied as the token row is loaded (jitter).</summary>
    public enum Place
    {
        Row,
        Choices,
        AsOperand,
        OnLoad,
    }

    /// <summary>
    /// An op's fragment: what it computes (its comment), where its results live, the buffer a
    /// result other kernels read binds to, and its body. An
    /// <see cref="Place.OnLoad"/> op has no body but <see cref="Load"/>: given how its operand's
    /// element is read, for which token, at which column and through which args, how the
    /// transformed element is read, so any reader of the row (the GEMV, a schedule's batch) applies it.
    /// </summary>
    public sealed record TokenOp(string What, Place Results, string? Buffer, System.Func<Node, TokenFrame, string> Body)
    {
        public System.Func<Node, TokenFrame, string, string, string, string, string>? Load { get; init; }
    }

    private static readonly Dictionary<string, TokenOp> Table = new()
    {
        [Ops.Jitter] = new("while training the router sees x·U(1 − eps, 1 + eps), drawn per element by its index in the global batch; applied as the row is loaded", Place.OnLoad, null, (n, f) => "")
        {
            Load = (n, f, element, token, d, args) => $"({args}.Training != 0 ? {element} * (1f + ({CSharpNames.Float(n.FloatAttr("eps"))} * ((2f * global::Wudao.CounterRng.Uniform({args}.SeedLo, {args}.SeedHi ^ global::Wudao.CounterRng.JitterStream, {args}.Step, unchecked((({args}.TokenBase + {token}) * {f.Dim}) + {d}))) - 1f))) : {element})",
        },
        [Ops.MatMul] = new("router logits, one GEMV (the native schedule computes it vectorised for several tokens and passes it ready)", Place.Row, null, MatMul),
        [Ops.Noisy] = new("H = logits + ε·softplus(raw) (Shazeer 2017); ε only while training, so inference routes on H = logits", Place.Row, null, Noisy),
        [Ops.Sigmoid] = new("each expert's affinity score on its own (DeepSeek-V3), not a softmax", Place.Row, null, (n, f) => $@"for (int e = 0; e < {f.Width(n.Operands[0])}; e++)
{{
    {f.Row(n.Results[0], "e")} = DeviceSigmoid({f.Row(n.Operands[0], "e")});
}}"),
        [Ops.TopK] = new("the k largest, ties to the lower expert", Place.Choices, null, (n, f) => TopK(n, f, f.Row(n.Operands[0], "e"), "bestV")),
        [Ops.TopKBiased] = new("chosen on score + bias; the gate keeps the bare score", Place.Choices, null, (n, f) => TopK(n, f, $"{f.Row(n.Operands[0], "e")} + {f.Name(n.Operands[1])}[e]", f.Row(n.Operands[0], "best"))),
        [Ops.Softmax] = new("exp(v − max v) / Σ, over the router logits or over the chosen values", Place.AsOperand, "probs", Softmax),
        [Ops.LogSumExp] = new("max + log Σ exp(v − max) of the router logits, for the router z-loss", Place.Row, "lse", LogSumExp),
        [Ops.Renorm] = new("the chosen gates normalised to sum 1", Place.Choices, null, Renorm),
        [Ops.SecondDrop] = new("while training, the second choice is kept with probability min(1, 2·g2), drawn by the token's index in the global batch (GShard)", Place.Choices, null, SecondDrop),
        [Ops.LoadProb] = new("P(x, e) = Φ((logits_e − kth_excl(H, k, e)) / softplus(raw_e)); kth_excl is the k-th largest H among the other experts", Place.Row, "pload", LoadProb),
        [Ops.AppendShared] = new("every token also goes through the shared experts, with gate 1", Place.Choices, null, (n, f) => $@"for (int j = {f.Width(n.Operands[0])}; j < {f.Width(n.Results[0])}; j++)
{{
    {f.Choice(n.Results[1], "j")} = {n.IntAttr("routed")} + (j - {f.Width(n.Operands[0])});
    {f.Choice(n.Results[0], "j")} = 1f;
}}"),
        [Ops.HashRoute] = new("the token id alone picks the expert (Roller 2021); the gate is 1", Place.Choices, null, (n, f) => $@"{f.Choice(n.Results[1], "0")} = global::Wudao.TokenHash.Expert({f.Name(n.Operands[0])}[ti], {n.IntAttr("experts")});
{f.Choice(n.Results[0], "0")} = 1f;"),
    };

    public static TokenOp Get(PlannedKernel k, Node n) => Table.TryGetValue(n.Op, out var op)
        ? op
        : throw new KernelAssemblyException($"k{k.Index}: no per-token fragment for %{n.Name} = {n.Op} in [{string.Join(", ", k.OpNames)}]");

    /// <summary>The fragment of an op <see cref="Get(PlannedKernel, Node)"/> has found.</summary>
    public static TokenOp Get(Node n) => Table[n.Op];

    /// <summary>The op's fragment in a block of its own (its locals stay its own), under its IR line and what it computes.</summary>
    public static string Render(PlannedKernel k, Node n, TokenFrame f)
    {
        var op = Get(k, n);
        var line = $"// {string.Join(", ", n.Results.Select(r => "%" + r))} = {n.Op} {string.Join(", ", n.Operands.Select(o => "%" + o))}: {op.What}.\n";
        return op.Results == Place.OnLoad ? line : $"{line}{{\n{RouterTokenFragments.Indent(op.Body(n, f))}\n}}\n";
    }

    private static string MatMul(Node n, TokenFrame f) => $@"if (!ready)
{{
    for (int e = 0; e < {f.Width(n.Results[0])}; e++)
    {{
        float acc = 0f;
        for (int d = 0; d < {f.Dim}; d++)
        {{
            acc += {f.Load(n.Operands[0], "d")} * {f.Name(n.Operands[1])}[((long)d * {f.Width(n.Results[0])}) + e];
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

    /// <summary>Over a router row or over the k chosen values, read and written through the frame; the max starts at −∞, so a NaN row gives NaN everywhere.</summary>
    private static string Softmax(Node n, TokenFrame f)
    {
        var (v, w) = (n.Operands[0], f.Width(n.Operands[0]));
        string In(string i) => f.IsChoice(v) ? f.Choice(v, i) : f.Row(v, i);
        string Out(string i) => f.IsChoice(v) ? f.Choice(n.Results[0], i) : f.Row(n.Results[0], i);
        return $@"{Max(w, In)}

float sum = 0f;
for (int i = 0; i < {w}; i++)
{{
    float v = global::ILGPU.Algorithms.XMath.Exp({In("i")} - top);
    {Out("i")} = v;
    sum += v;
}}

for (int i = 0; i < {w}; i++)
{{
    {Out("i")} = {Out("i")} / sum;
}}";
    }

    private static string LogSumExp(Node n, TokenFrame f)
    {
        var w = f.Width(n.Operands[0]);
        string In(string i) => f.Row(n.Operands[0], i);
        return $@"{Max(w, In)}

float sum = 0f;
for (int i = 0; i < {w}; i++)
{{
    sum += global::ILGPU.Algorithms.XMath.Exp({In("i")} - top);
}}

{f.Row(n.Results[0], "0")} = top + global::ILGPU.Algorithms.XMath.Log(sum);";
    }

    private static string Max(int width, System.Func<string, string> at) => $@"float top = float.NegativeInfinity;
for (int i = 0; i < {width}; i++)
{{
    top = {at("i")} > top ? {at("i")} : top;
}}";

    private static string SecondDrop(Node n, TokenFrame f)
    {
        var (gates, experts, kept) = (n.Operands[0], n.Operands[1], n.Results[0]);
        var copy = f.Choice(kept, "j") == f.Choice(experts, "j") ? "" : $@"for (int j = 0; j < {f.Width(experts)}; j++)
{{
    {f.Choice(kept, "j")} = {f.Choice(experts, "j")};
}}

";
        return $@"{copy}if (args.Training != 0 && global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi, args.Step, args.TokenBase + ti) >= 2f * {f.Choice(gates, "1")})
{{
    {f.Choice(kept, "1")} = -1;
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
