using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// Gate and route templates of the routers beyond softmax top-k: noisy top-k, hash, DeepSeek
/// gates, and the expert-choice route. A gate's work for one token is a static method
/// (<c>K{i}Token</c>) that takes its scratch row as a view: the ILGPU kernel hands it thread-local
/// memory, the native schedule a slice of its worker's scratch, so both targets run the same code.
/// </summary>
internal static partial class IlgpuRouterTemplates
{
    private const string F = "global::ILGPU.ArrayView<float>";
    private const string I = "global::ILGPU.ArrayView<int>";
    private const string Args = "global::Wudao.LayerArgs";

    /// <summary>A per-token gate, or null when the kernel holds none of these routers' ops.</summary>
    public static EmittedKernel? Gate(PlannedKernel k, KernelPlan plan)
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

    private static EmittedKernel HashGate(PlannedKernel k)
    {
        Expect(k, Ops.HashRoute);
        var n = k.Nodes[0];
        var ps = new List<KernelParam>
        {
            new(BindingKind.Input, n.Operands[0], I, "ids"),
            new(BindingKind.Buffer, n.Results[1], I, "experts"),
            new(BindingKind.Buffer, n.Results[0], F, "gates"),
        };
        var token = @"// hash_route: the token id alone picks the expert (Roller 2021); the gate is 1.
experts[ti] = global::Wudao.TokenHash.Expert(ids[ti], ER);
gates[ti] = 1f;";
        return PerToken(k, ps, token, 0, new Dictionary<string, string>());
    }

    private static EmittedKernel NoisyGate(PlannedKernel k, KernelPlan plan)
    {
        Expect(k, Ops.MatMul, Ops.MatMul, Ops.Noisy, Ops.TopK, Ops.Softmax, Ops.LoadProb);
        var (clean, raw, topk, softmax, load) = (k.Nodes[0], k.Nodes[1], k.Nodes[3], k.Nodes[4], k.Nodes[5]);
        var ps = new List<KernelParam>
        {
            new(Input(plan, clean.Operands[0]), clean.Operands[0], F, "x"),
            new(BindingKind.Weight, clean.Operands[1], F, "wg"),
            new(BindingKind.Weight, raw.Operands[1], F, "wn"),
            new(BindingKind.Buffer, load.Results[0], F, "pload"),
            new(BindingKind.Buffer, topk.Results[1], I, "experts"),
            new(BindingKind.Buffer, softmax.Results[0], F, "gates"),
            new(BindingKind.Args, "", Args, "args"),
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
    float sd = global::Wudao.RouterMath.Softplus(s[ER + e]);
    // ε only while training (Shazeer adds the noise to train the router); inference routes on H = c.
    float eps = args.Training != 0 ? global::Wudao.CounterRng.Normal(args.SeedLo, args.SeedHi ^ global::Wudao.CounterRng.NoiseStream, args.Step, unchecked(((args.TokenBase + ti) * ER) + e)) : 0f;
    s[e] = c;
    s[ER + e] = sd;
    s[(2 * ER) + e] = c + (eps * sd);
}

// topk over H.
" + IlgpuKernelEmitter.TopKPasses("KR", "ER", "s[(2 * ER) + e]", "bestV") + @"
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
    pload[((long)ti * ER) + e] = taken && !found ? 1f : global::Wudao.RouterMath.Phi((s[e] - threshold) / s[ER + e]);
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
        return PerToken(k, ps, token, 3, new Dictionary<string, string> { ["logits"] = "wg,wn" });
    }

    private static EmittedKernel DeepSeekGate(PlannedKernel k, KernelPlan plan)
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
            new(Input(plan, matmul.Operands[0]), matmul.Operands[0], F, "x"),
            new(BindingKind.Weight, matmul.Operands[1], F, "wg"),
            new(BindingKind.Weight, topk.Operands[1], F, "bias"),
            new(BindingKind.Buffer, shared?.Results[1] ?? topk.Results[1], I, "experts"),
            new(BindingKind.Buffer, shared?.Results[0] ?? renorm.Results[0], F, "gates"),
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

    s[e] = global::Wudao.RouterMath.Sigmoid(acc);
}

// topk_biased: chosen on score + bias; the gate keeps the bare score.
" + IlgpuKernelEmitter.TopKPasses("KR", "ER", "s[e] + bias[e]", "s[best]") + @"
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
        return PerToken(k, ps, token, 1, new Dictionary<string, string> { ["logits"] = "wg" });
    }

    /// <summary>
    /// A per-token gate: the kernel body calls <c>K{i}Token</c> with thread-local scratch of
    /// <paramref name="scratchRows"/>·ER floats; the method is kept in the kernel's helper.
    /// </summary>
    private static EmittedKernel PerToken(PlannedKernel k, List<KernelParam> ps, string token, int scratchRows, Dictionary<string, string> facts)
    {
        var names = string.Join(", ", ps.Select(p => p.Name));
        var scratch = scratchRows == 0 ? "default(global::ILGPU.ArrayView<float>)" : $"global::ILGPU.LocalMemory.Allocate<float>({scratchRows} * ER)";
        var body = $"K{k.Index}Token(index, {names}, {scratch}, false);";
        var parameters = string.Join(", ", ps.Select(p => $"{p.CsType} {p.Name}"));
        var helper = $"/// <summary>k{k.Index} {k.Name} for one token; <paramref name=\"s\"/> is its scratch row ({scratchRows}·ER floats), holding the router logits already when <paramref name=\"ready\"/>.</summary>\n"
            + $"public static void K{k.Index}Token(int ti, {parameters}, {F} s, bool ready)\n{{\n{Indent(token)}\n}}";
        facts["per_token"] = (scratchRows).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}Gate", false, ps, body, facts, helper);
    }

    private static string Indent(string text) => string.Join("\n", text.Split('\n').Select(l => l.Length == 0 ? l : "    " + l));

    private static BindingKind Input(KernelPlan plan, string value) =>
        plan.Graph.Inputs.Any(i => i.Key == value) ? BindingKind.Input : BindingKind.Buffer;

    private static void Expect(PlannedKernel k, params string[] ops)
    {
        if (!k.OpNames.SequenceEqual(ops))
        {
            throw new CompileException($"k{k.Index}: no ILGPU template fuses [{string.Join(", ", k.OpNames)}] (expected [{string.Join(", ", ops)}])");
        }
    }
}
