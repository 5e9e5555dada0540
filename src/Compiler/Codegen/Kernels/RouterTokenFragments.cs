using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The per-token work of the routers beyond softmax top-k (noisy top-k, hash, DeepSeek), written
/// once as a static method body for token <c>ti</c> with its scratch row <c>s</c> as a view: the
/// ILGPU kernel hands it thread-local memory, the native schedule a slice of its worker's
/// scratch, so both targets run the same code. Also the top-k passes every gate shares.
/// </summary>
public static class RouterTokenFragments
{
    /// <summary>A per-token router: its bindings, body, scratch rows and the weights of its router GEMVs.</summary>
    public sealed record TokenGate(IReadOnlyList<KernelParam> Parameters, string Body, int ScratchRows, IReadOnlyList<string> LogitWeights);

    /// <summary>
    /// The top-k every gate runs (per token, k passes): each pass takes the largest value below the
    /// previous pick, ties to the lower expert, so every router and target breaks ties alike.
    /// Writes choice j's expert and gate (= <paramref name="gate"/>) to <paramref name="expertAt"/> and
    /// <paramref name="gateAt"/> (lvalues of j; ILGPU's <c>experts[co + j]</c> by default), sums the
    /// gates in <c>chosen</c>. A NaN row has no eligible expert: the choice gets expert −1 and gate
    /// NaN, so combine makes the token's output NaN (as libtorch would) instead of a silent zero.
    /// </summary>
    public static string TopKPasses(string k, string experts, string value, string gate, string expertAt = "experts[co + j]", string gateAt = "gates[co + j]") => $@"float prevV = float.PositiveInfinity;
int prevE = -1;
float chosen = 0f;
for (int j = 0; j < {k}; j++)
{{
    int best = -1;
    float bestV = 0f;
    for (int e = 0; e < {experts}; e++)
    {{
        float v = {value};
        bool eligible = v < prevV || (v == prevV && e > prevE);
        if (eligible && (best < 0 || v > bestV))
        {{
            best = e;
            bestV = v;
        }}
    }}

    float gv = best < 0 ? float.NaN : {gate};
    {expertAt} = best;
    {gateAt} = gv;
    chosen += gv;
    prevV = bestV;
    prevE = best;
}}
";

    /// <summary>A per-token router read from the kernel's ops, or null when it holds none of these routers' ops.</summary>
    public static TokenGate? Read(PlannedKernel k, KernelPlan plan)
    {
        if (k.Nodes.Any(n => n.Op == Ops.HashRoute))
        {
            return HashGate(k);
        }

        if (k.Nodes.Any(n => n.Op == Ops.Noisy))
        {
            return NoisyGate(k, plan);
        }

        return k.Nodes.Any(n => n.Op == Ops.TopKBiased) ? DeepSeekGate(k, plan) : null;
    }

    /// <summary>The shared method of a per-token gate, emitted once into the <c>Kernels</c> class.</summary>
    public static string Method(GateKernel gate)
    {
        var parameters = string.Join(", ", gate.Parameters.Select(p => $"{p.CsType} {p.Name}"));
        return $"/// <summary>k{gate.Index} {gate.Role} for one token; <paramref name=\"s\"/> is its scratch row ({gate.ScratchRows}·ER floats), holding the router logits already when <paramref name=\"ready\"/>.</summary>\n"
            + $"public static void {gate.TokenMethod}(int ti, {parameters}, {KernelReading.F} s, bool ready)\n{{\n{Indent(gate.TokenBody!)}\n}}";
    }

    private static TokenGate HashGate(PlannedKernel k)
    {
        Expect(k, Ops.HashRoute);
        var n = k.Nodes[0];
        var ps = new List<KernelParam>
        {
            new(BindingKind.Input, n.Operands[0], KernelReading.I, "ids"),
            new(BindingKind.Buffer, n.Results[1], KernelReading.I, "experts"),
            new(BindingKind.Buffer, n.Results[0], KernelReading.F, "gates"),
        };
        var token = @"// hash_route: the token id alone picks the expert (Roller 2021); the gate is 1.
experts[ti] = global::Wudao.TokenHash.Expert(ids[ti], ER);
gates[ti] = 1f;";
        return new TokenGate(ps, token, 0, new string[0]);
    }

    private static TokenGate NoisyGate(PlannedKernel k, KernelPlan plan)
    {
        Expect(k, Ops.MatMul, Ops.MatMul, Ops.Noisy, Ops.TopK, Ops.Softmax, Ops.LoadProb);
        var (clean, raw, topk, softmax, load) = (k.Nodes[0], k.Nodes[1], k.Nodes[3], k.Nodes[4], k.Nodes[5]);
        var ps = new List<KernelParam>
        {
            new(KernelReading.InputOrBuffer(plan, clean.Operands[0]), clean.Operands[0], KernelReading.F, "x"),
            new(BindingKind.Weight, clean.Operands[1], KernelReading.F, "wg"),
            new(BindingKind.Weight, raw.Operands[1], KernelReading.F, "wn"),
            new(BindingKind.Buffer, load.Results[0], KernelReading.F, "pload"),
            new(BindingKind.Buffer, topk.Results[1], KernelReading.I, "experts"),
            new(BindingKind.Buffer, softmax.Results[0], KernelReading.F, "gates"),
            new(BindingKind.Args, "", KernelReading.Args, "args"),
        };
        var token = @"long xo = (long)ti * D;
long co = (long)ti * KR;

// matmul ×2: clean logits c and noise logits r into the scratch row (the native schedule computes
// them vectorised for several tokens and passes ready = true).
if (!ready)
{
    for (int e = 0; e < ER; e++)
    {
        float c = 0f;
        float r = 0f;
        for (int d = 0; d < D; d++)
        {
            float xv = x[xo + d];
            c += xv * wg[(long)d * ER + e];
            r += xv * wn[(long)d * ER + e];
        }

        s[e] = c;
        s[ER + e] = r;
    }
}

// noisy: H = c + ε·softplus(r) (Shazeer 2017).
for (int e = 0; e < ER; e++)
{
    float c = s[e];
    float sd = DeviceSoftplus(s[ER + e]);
    // ε only while training (Shazeer adds the noise to train the router); inference routes on H = c.
    float eps = args.Training != 0 ? global::Wudao.CounterRng.Normal(args.SeedLo, args.SeedHi ^ global::Wudao.CounterRng.NoiseStream, args.Step, unchecked(((args.TokenBase + ti) * ER) + e)) : 0f;
    s[e] = c;
    s[ER + e] = sd;
    s[(2 * ER) + e] = c + (eps * sd);
}

// topk over H.
" + TopKPasses("KR", "ER", "s[(2 * ER) + e]", "bestV") + @"
// The (k+1)-th largest H: what a chosen expert's H must stay above (none when k = E).
float next = float.NegativeInfinity;
bool found = false;
for (int e = 0; e < ER; e++)
{
    float v = s[(2 * ER) + e];
    bool taken = false;
    for (int j = 0; j < KR; j++)
    {
        taken |= experts[co + j] == e;
    }

    if (!taken && (!found || v > next))
    {
        next = v;
        found = true;
    }
}

// load_prob: P(x, e) = Φ((c_e − kth_excl(H, k, e)) / softplus(r_e)); kth_excl is the k-th
// largest H among the other experts: the (k+1)-th for a chosen expert, the k-th otherwise.
float kth = gates[co + KR - 1];
for (int e = 0; e < ER; e++)
{
    bool taken = false;
    for (int j = 0; j < KR; j++)
    {
        taken |= experts[co + j] == e;
    }

    float threshold = taken ? next : kth;
    pload[((long)ti * ER) + e] = taken && !found ? 1f : DevicePhi((s[e] - threshold) / s[ER + e]);
}

// softmax over the k chosen H values (in choice order; the first is the largest).
float top = gates[co];
float sum = 0f;
for (int j = 0; j < KR; j++)
{
    float v = global::ILGPU.Algorithms.XMath.Exp(gates[co + j] - top);
    gates[co + j] = v;
    sum += v;
}

for (int j = 0; j < KR; j++)
{
    gates[co + j] = gates[co + j] / sum;
}";
        return new TokenGate(ps, token, 3, new[] { "wg", "wn" });
    }

    private static TokenGate DeepSeekGate(PlannedKernel k, KernelPlan plan)
    {
        var shared = k.Nodes.FirstOrDefault(n => n.Op == Ops.AppendShared);
        if (shared != null)
        {
            Expect(k, Ops.MatMul, Ops.Sigmoid, Ops.TopKBiased, Ops.Renorm, Ops.AppendShared);
        }
        else
        {
            Expect(k, Ops.MatMul, Ops.Sigmoid, Ops.TopKBiased, Ops.Renorm);
        }

        var (matmul, topk, renorm) = (k.Nodes[0], k.Nodes[2], k.Nodes[3]);
        var ps = new List<KernelParam>
        {
            new(KernelReading.InputOrBuffer(plan, matmul.Operands[0]), matmul.Operands[0], KernelReading.F, "x"),
            new(BindingKind.Weight, matmul.Operands[1], KernelReading.F, "wg"),
            new(BindingKind.Weight, topk.Operands[1], KernelReading.F, "bias"),
            new(BindingKind.Buffer, shared?.Results[1] ?? topk.Results[1], KernelReading.I, "experts"),
            new(BindingKind.Buffer, shared?.Results[0] ?? renorm.Results[0], KernelReading.F, "gates"),
        };
        var token = @"long xo = (long)ti * D;
long co = (long)ti * K;

// matmul (unless the native schedule passed the logits ready) + sigmoid: each expert's affinity
// score on its own (DeepSeek-V3), not a softmax.
for (int e = 0; e < ER; e++)
{
    float acc = 0f;
    if (ready)
    {
        acc = s[e];
    }
    else
    {
        for (int d = 0; d < D; d++)
        {
            acc += x[xo + d] * wg[(long)d * ER + e];
        }
    }

    s[e] = DeviceSigmoid(acc);
}

// topk_biased: chosen on score + bias; the gate keeps the bare score.
" + TopKPasses("KR", "ER", "s[e] + bias[e]", "s[best]") + @"
// renorm: the gates are the chosen scores normalised, without the bias.
for (int j = 0; j < KR; j++)
{
    gates[co + j] = gates[co + j] / chosen;
}

// append_shared: every token also goes through the shared experts, with gate 1.
for (int j = KR; j < K; j++)
{
    experts[co + j] = ER + (j - KR);
    gates[co + j] = 1f;
}";
        return new TokenGate(ps, token, 1, new[] { "wg" });
    }

    private static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => l.Length == 0 ? l : "    " + l));

    private static void Expect(PlannedKernel k, params string[] ops)
    {
        if (!k.OpNames.SequenceEqual(ops))
        {
            throw KernelReading.Unfused(k, string.Join(", ", ops));
        }
    }
}
