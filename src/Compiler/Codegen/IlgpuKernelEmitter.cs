using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// Emits one ILGPU kernel per planned kernel. Each kernel's op list is matched to a fused
/// template; compile-time shapes appear as constants of the enclosing <c>Kernels</c> class
/// (D, E, K, H, H1, TM, HC), the token count arrives in <c>LayerArgs</c>.
/// </summary>
public static class IlgpuKernelEmitter
{
    private const string F = "global::ILGPU.ArrayView<float>";
    private const string I = "global::ILGPU.ArrayView<int>";
    private const string Args = "global::Wudao.LayerArgs";

    public static IReadOnlyList<EmittedKernel> Emit(KernelPlan plan)
    {
        var result = new List<EmittedKernel>();
        foreach (var kernel in plan.Kernels)
        {
            var emitted = kernel.Space switch
            {
                IterationSpace.TokenRows => Gate(kernel, plan),
                IterationSpace.TokenScan => Route(kernel),
                IterationSpace.Choices => Dispatch(kernel),
                IterationSpace.ExpertRows => ExpertFfn(kernel, plan),
                IterationSpace.TokenGather => Combine(kernel),
                _ => null,
            };
            if (emitted == null)
            {
                throw NoTemplate(kernel);
            }

            CheckWritten(kernel, plan, emitted);
            result.Add(emitted);
        }

        return result;
    }

    /// <summary>
    /// The top-k every gate runs (per token, k passes): each pass takes the largest value below the
    /// previous pick, ties to the lower expert, so every router and target breaks ties alike.
    /// Writes experts[co + j] and gates[co + j] = <paramref name="gate"/>, sums the gates in <c>chosen</c>.
    /// A NaN row has no eligible expert: the choice gets expert −1 and gate NaN, so combine makes
    /// the token's output NaN (as libtorch would) instead of a silent zero.
    /// </summary>
    public static string TopKPasses(string k, string experts, string value, string gate) => $@"float prevV = float.PositiveInfinity;
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
    experts[co + j] = best;
    gates[co + j] = gv;
    chosen += gv;
    prevV = bestV;
    prevE = best;
}}
";

    /// <summary>Name of the constant holding a value's offset in the statistics block.</summary>
    public static string MetaOffset(string value) => "Meta_" + value;

    private static EmittedKernel Gate(PlannedKernel k, KernelPlan plan)
    {
        var other = IlgpuRouterTemplates.Gate(k, plan);
        if (other != null)
        {
            return other;
        }

        // [jitter] matmul softmax [topk, then any of renorm, second_drop], [logsumexp]. Without
        // topk (expert choice) the gate only writes the router probabilities.
        var known = new[] { Ops.Jitter, Ops.MatMul, Ops.Softmax, Ops.TopK, Ops.Renorm, Ops.SecondDrop, Ops.LogSumExp };
        var jitter = k.Nodes[0].Op == Ops.Jitter ? k.Nodes[0] : null;
        var core = k.Nodes.Skip(jitter != null ? 1 : 0).ToList();
        if (core.Count < 2 || core[0].Op != Ops.MatMul || core[1].Op != Ops.Softmax || k.OpNames.Any(o => !known.Contains(o))
            || (core.Count > 2 && core[2].Op != Ops.TopK && core[2].Op != Ops.LogSumExp)
            || (jitter != null && core[0].Operands[0] != jitter.Results[0]))
        {
            throw NoTemplate(k);
        }

        var matmul = core[0];
        var softmax = core[1];
        var topk = k.Nodes.FirstOrDefault(n => n.Op == Ops.TopK);
        var renorm = k.Nodes.FirstOrDefault(n => n.Op == Ops.Renorm);
        var drop = k.Nodes.FirstOrDefault(n => n.Op == Ops.SecondDrop);
        var lse = k.Nodes.FirstOrDefault(n => n.Op == Ops.LogSumExp);
        var x = jitter?.Operands[0] ?? matmul.Operands[0];
        var input = plan.Graph.Inputs.Any(i => i.Key == x) ? BindingKind.Input : BindingKind.Buffer;
        var ps = new List<KernelParam>
        {
            new(input, x, F, "x"),
            new(BindingKind.Weight, matmul.Operands[1], F, "wg"),
            new(BindingKind.Buffer, softmax.Results[0], F, "probs"),
        };
        if (topk != null)
        {
            ps.Add(new(BindingKind.Buffer, drop?.Results[0] ?? topk.Results[1], I, "experts"));
            ps.Add(new(BindingKind.Buffer, renorm?.Results[0] ?? topk.Results[0], F, "gates"));
        }

        if (lse != null)
        {
            ps.Add(new(BindingKind.Buffer, lse.Results[0], F, "lse"));
        }

        ps.Add(new(BindingKind.Args, "", Args, "args"));
        var eps = jitter != null ? CSharpNames.Float(jitter.FloatAttr("eps")) : "0f";
        var body = @"int ti = index;
long xo = (long)ti * D;
long po = (long)ti * E;
long co = (long)ti * K;
// matmul: router logits, one GEMV per token, kept in the probs row.
float max = float.NegativeInfinity;
for (int e = 0; e < E; e++)
{
    float acc = 0f;
    for (int d = 0; d < D; d++)
    {
        acc += XAt(x, xo, d, ti, args) * wg[(long)d * E + e];
    }

    probs[po + e] = acc;
    if (acc > max)
    {
        max = acc;
    }
}

// softmax over experts, in place.
float sum = 0f;
for (int e = 0; e < E; e++)
{
    float v = global::ILGPU.Algorithms.XMath.Exp(probs[po + e] - max);
    probs[po + e] = v;
    sum += v;
}

for (int e = 0; e < E; e++)
{
    probs[po + e] = probs[po + e] / sum;
}
LSE
TOPK";
        body = body.Replace("TOPK", topk != null ? "\n// topk over the probabilities.\n" + TopKPasses("K", "E", "probs[po + e]", "bestV") : "");
        body = body.Replace("XAt(x, xo, d, ti, args)", jitter != null
            ? $"(args.Training != 0 ? x[xo + d] * (1f + ({eps} * ((2f * global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi ^ global::Wudao.CounterRng.JitterStream, args.Step, unchecked(((args.TokenBase + ti) * D) + d))) - 1f))) : x[xo + d])"
            : "x[xo + d]");
        body = body.Replace("LSE\n", lse != null ? "\n// logsumexp of the logits, for the router z-loss.\nlse[ti] = max + global::ILGPU.Algorithms.XMath.Log(sum);\n" : "");
        if (renorm != null)
        {
            body += @"
// renorm: gates sum to one over the chosen experts (Mixtral, GShard).
for (int j = 0; j < K; j++)
{
    gates[co + j] = gates[co + j] / chosen;
}
";
        }

        if (drop != null)
        {
            body += @"
// second_drop: while training, keep the second expert with probability min(1, 2*g2), counter-based
// RNG drawn by the token's index in the global batch (the same draw on one rank or many).
if (args.Training != 0 && global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi, args.Step, args.TokenBase + ti) >= 2f * gates[co + 1])
{
    experts[co + 1] = -1;
}
";
        }

        var facts = new Dictionary<string, string>
        {
            ["topk"] = topk != null ? "true" : "false",
            ["renorm"] = renorm != null ? "true" : "false",
            ["second_drop"] = drop != null ? "true" : "false",
            ["lse"] = lse != null ? "true" : "false",
            ["jitter"] = eps,
        };
        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}Gate", false, ps, body, facts);
    }

    private static EmittedKernel Route(PlannedKernel k)
    {
        var choice = IlgpuRouterTemplates.ExpertChoiceRoute(k);
        if (choice != null)
        {
            return choice;
        }

        var noisy = k.Nodes.FirstOrDefault(n => n.Op == Ops.NoisyLoss);
        var capacity = k.Nodes.FirstOrDefault(n => n.Op == Ops.Capacity);
        var scan = k.Nodes.FirstOrDefault(n => n.Op == Ops.Scan);
        var aux = k.Nodes.FirstOrDefault(n => n.Op == Ops.AuxLoss);
        var z = k.Nodes.FirstOrDefault(n => n.Op == Ops.ZLoss);
        if (capacity == null || scan == null || scan.Operands[0] != capacity.Results[1] || k.Nodes.Count != 2 + (aux == null ? 0 : 1) + (z == null ? 0 : 1) + (noisy == null ? 0 : 1))
        {
            throw NoTemplate(k);
        }

        if (aux != null && aux.Operands[1] != capacity.Operands[0])
        {
            throw new CompileException($"k{k.Index}: aux_loss must read the same expert choices as capacity");
        }

        var ps = new List<KernelParam> { new(BindingKind.Buffer, capacity.Operands[0], I, "experts") };
        if (aux != null)
        {
            ps.Add(new(BindingKind.Buffer, aux.Operands[0], F, "probs"));
        }

        ps.Add(new(BindingKind.Buffer, capacity.Results[0], I, "slots"));
        ps.Add(new(BindingKind.Meta, "", I, "meta"));
        if (z != null)
        {
            ps.Add(new(BindingKind.Buffer, z.Operands[0], F, "lse"));
        }

        if (noisy != null)
        {
            ps.Add(new(BindingKind.Buffer, noisy.Operands[0], F, "pload"));
            ps.Add(new(BindingKind.Buffer, noisy.Operands[1], F, "gates"));
        }

        ps.Add(new(BindingKind.Args, "", Args, "args"));
        // Shared experts (index ≥ routed) take every token: capacity limits the routed ones only.
        var routed = capacity.Attr("routed") ?? "E";
        var (exempt, limited) = routed == "E" ? ("", "") : ($" || mine >= {routed}", $" && e < {routed}");
        var kept = MetaOffset(capacity.Results[1]);
        var dropped = MetaOffset(capacity.Results[2]);
        var offsets = MetaOffset(scan.Results[0]);
        var body = $@"var filled = global::ILGPU.SharedMemory.Allocate<int>(E);
var chunk = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
var partial = global::ILGPU.SharedMemory.Allocate<float>(E);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;
int tokens = args.Tokens;
int cap = args.Capacity;
for (int e = tid; e < E; e += g)
{{
    filled[e] = 0;
}}

global::ILGPU.Group.Barrier();

// capacity: choice-major, token order. A choice's slot is the number of earlier choices of
// the same expert; past the capacity it is dropped (slot -1). Deterministic by construction.
for (int j = 0; j < K; j++)
{{
    for (int b = 0; b < tokens; b += g)
    {{
        int t = b + tid;
        int mine = t < tokens ? experts[(long)t * K + j] : -1;
        chunk[tid] = mine;
        global::ILGPU.Group.Barrier();
        if (t < tokens)
        {{
            int slot = -1;
            if (mine >= 0)
            {{
                int rank = 0;
                for (int i = 0; i < tid; i++)
                {{
                    if (chunk[i] == mine)
                    {{
                        rank++;
                    }}
                }}

                int pos = filled[mine] + rank;
                if (cap <= 0 || pos < cap{exempt})
                {{
                    slot = pos;
                }}
            }}

            slots[(long)t * K + j] = slot;
        }}

        global::ILGPU.Group.Barrier();
        for (int e = tid; e < E; e += g)
        {{
            int c = 0;
            for (int i = 0; i < g; i++)
            {{
                if (chunk[i] == e)
                {{
                    c++;
                }}
            }}

            filled[e] += c;
        }}

        global::ILGPU.Group.Barrier();
    }}
}}

// count + scan: kept rows per expert and their exclusive prefix sum (expert-contiguous layout).
if (tid == 0)
{{
    int off = 0;
    int lost = 0;
    for (int e = 0; e < E; e++)
    {{
        int f = filled[e];
        int keep = cap > 0 && f > cap{limited} ? cap : f;
        lost += f - keep;
        meta[{kept} + e] = keep;
        meta[{offsets} + e] = off;
        off += keep;
    }}

    meta[{offsets} + E] = off;
    meta[{dropped}] = lost;
}}
";
        if (aux != null)
        {
            body += $@"
// aux_loss: alpha * E * sum_i f_i * P_i; f_i = share of tokens whose first choice is i,
// P_i = mean router probability of i. Each expert's sums run in token order.
for (int e = tid; e < E; e += g)
{{
    float p = 0f;
    int f = 0;
    for (int t = 0; t < tokens; t++)
    {{
        p += probs[(long)t * E + e];
        if (experts[(long)t * K] == e)
        {{
            f++;
        }}
    }}

    partial[e] = tokens > 0 ? (f / (float)tokens) * (p / tokens) : 0f;
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    float s = 0f;
    for (int e = 0; e < E; e++)
    {{
        s += partial[e];
    }}

    meta[{MetaOffset(aux.Results[0])}] = (int)global::ILGPU.Interop.FloatAsInt(args.AuxWeight * E * s);
}}
";
        }

        if (z != null)
        {
            body += $@"
// z_loss: weight · mean over tokens of logsumexp², summed in token order.
if (tid == 0)
{{
    float zs = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        zs += lse[t] * lse[t];
    }}

    meta[{MetaOffset(z.Results[0])}] = (int)global::ILGPU.Interop.FloatAsInt(tokens > 0 ? {CSharpNames.Float(z.FloatAttr("weight"))} * (zs / tokens) : 0f);
}}
";
        }

        if (noisy != null)
        {
            body += NoisyLoss(noisy);
        }

        var facts = new Dictionary<string, string> { ["kept"] = kept, ["offsets"] = offsets, ["dropped"] = dropped, ["routed"] = routed };
        if (noisy != null)
        {
            facts["importance"] = MetaOffset(noisy.Results[0]);
            facts["load"] = MetaOffset(noisy.Results[1]);
            facts["importance_weight"] = CSharpNames.Float(noisy.FloatAttr("importance"));
            facts["load_weight"] = CSharpNames.Float(noisy.FloatAttr("load"));
        }

        if (z != null)
        {
            facts["z"] = MetaOffset(z.Results[0]);
            facts["z_weight"] = CSharpNames.Float(z.FloatAttr("weight"));
        }

        if (aux != null)
        {
            facts["aux"] = MetaOffset(aux.Results[0]);
        }

        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}Route", true, ps, body, facts);
    }

    /// <summary>
    /// noisy_loss: per expert (one thread each), importance = Σ gates and load = Σ P(x, e) in token
    /// order; thread 0 weighs CV² of each (unbiased variance over E − 1, as torch's var).
    /// </summary>
    private static string NoisyLoss(Node noisy) => $@"
// importance reuses the aux-loss scratch (noisy top-k has no aux loss): shared memory stays at 12 bytes per expert.
var importance = partial;
var load = global::ILGPU.SharedMemory.Allocate<float>(E);
for (int e = tid; e < E; e += g)
{{
    float imp = 0f;
    float ld = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        for (int j = 0; j < K; j++)
        {{
            if (experts[((long)t * K) + j] == e)
            {{
                imp += gates[((long)t * K) + j];
            }}
        }}

        ld += pload[((long)t * E) + e];
    }}

    importance[e] = imp;
    load[e] = ld;
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    meta[{MetaOffset(noisy.Results[0])}] = (int)global::ILGPU.Interop.FloatAsInt({CSharpNames.Float(noisy.FloatAttr("importance"))} * global::Wudao.RouterMath.CvSquared(importance));
    meta[{MetaOffset(noisy.Results[1])}] = (int)global::ILGPU.Interop.FloatAsInt({CSharpNames.Float(noisy.FloatAttr("load"))} * global::Wudao.RouterMath.CvSquared(load));
}}
";

    private static EmittedKernel Dispatch(PlannedKernel k)
    {
        if (k.Nodes.Count != 1)
        {
            throw NoTemplate(k);
        }

        var n = k.Nodes[0];
        var ps = new List<KernelParam>
        {
            new(BindingKind.Input, n.Operands[0], F, "x"),
            new(BindingKind.Buffer, n.Operands[1], I, "experts"),
            new(BindingKind.Buffer, n.Operands[2], I, "slots"),
            new(BindingKind.Meta, "", I, "meta"),
            new(BindingKind.Buffer, n.Results[0], F, "rows"),
        };
        var body = $@"// scatter: choice c = t*K + j of token t goes to row offsets[expert] + slot.
int i = index;
int c = i / D;
int d = i - (c * D);
int slot = slots[c];
if (slot < 0)
{{
    return;
}}

long row = meta[{MetaOffset(n.Operands[3])} + experts[c]] + slot;
rows[(row * D) + d] = x[((long)(c / K) * D) + d];
";
        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}Dispatch", false, ps, body, new Dictionary<string, string> { ["offsets"] = MetaOffset(n.Operands[3]) });
    }

    private static EmittedKernel ExpertFfn(PlannedKernel k, KernelPlan plan)
    {
        var mlp = FusedMlp.From(k, plan);
        var ps = new List<KernelParam>
        {
            new(BindingKind.Buffer, mlp.Up.Operands[0], F, "rows"),
            new(BindingKind.Weight, mlp.Up.Operands[1], F, "w1"),
        };
        if (mlp.UpBias != null)
        {
            ps.Add(new(BindingKind.Weight, mlp.UpBias.Operands[1], F, "b1"));
        }

        ps.Add(new(BindingKind.Weight, mlp.Down.Operands[1], F, "w2"));
        if (mlp.DownBias != null)
        {
            ps.Add(new(BindingKind.Weight, mlp.DownBias.Operands[1], F, "b2"));
        }

        ps.Add(new(BindingKind.Meta, "", I, "meta"));
        ps.Add(new(BindingKind.Buffer, mlp.Output, F, "y"));

        // The up GEMM's main loop, its bias epilogue and the activation's fragment; a gated
        // activation accumulates the gate column c and the up column H + c together.
        var gated = mlp.Activation?.Gated == true;
        string Start(string column) => mlp.UpBias != null ? $"b1[((long)e * H1) + {column}]" : "0f";
        var upAcc = $@"float a = {Start("c")};{(gated ? $"\n                float u = {Start("H + c")};" : "")}
                for (int d = 0; d < D; d++)
                {{
                    float xv = xs[(r * D) + d];
                    long w = ((((long)e * D) + d) * H1) + c;
                    a += xv * w1[w];{(gated ? "\n                    u += xv * w1[w + H];" : "")}
                }}

                v = {mlp.Activation?.Render(MathDialect.Ilgpu, "a", "u") ?? "a"};";
        var yStart = mlp.DownBias != null ? "b2[((long)e * D) + d]" : "0f";
        var offsets = MetaOffset(mlp.Offsets);
        var body = $@"var xs = global::ILGPU.SharedMemory.Allocate<float>(TM * D);
var hs = global::ILGPU.SharedMemory.Allocate<float>(TM * HC);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;

// Find this group's tile: tiles are numbered expert by expert, TM rows each, never crossing
// an expert. Groups past the last tile leave together, before any barrier.
int tile = global::ILGPU.Grid.IdxX;
int e = -1;
int start = 0;
int n = 0;
for (int ee = 0; ee < E; ee++)
{{
    int count = meta[{offsets} + ee + 1] - meta[{offsets} + ee];
    int tiles = (count + TM - 1) / TM;
    if (e < 0)
    {{
        if (tile < tiles)
        {{
            e = ee;
            start = meta[{offsets} + ee] + (tile * TM);
            n = count - (tile * TM) < TM ? count - (tile * TM) : TM;
        }}
        else
        {{
            tile -= tiles;
        }}
    }}
}}

if (e < 0)
{{
    return;
}}

// Stage the tile's input rows in shared memory; start the output at the second bias.
for (int i = tid; i < TM * D; i += g)
{{
    int r = i / D;
    int d = i - (r * D);
    bool live = r < n;
    xs[i] = live ? rows[((long)(start + r) * D) + d] : 0f;
    if (live)
    {{
        y[((long)(start + r) * D) + d] = {yStart};
    }}
}}

global::ILGPU.Group.Barrier();

// Fused MLP: each step makes HC hidden columns (GEMM + bias + activation) in shared memory,
// then adds their product with the down projection to the output rows this thread owns.
for (int h0 = 0; h0 < H; h0 += HC)
{{
    for (int i = tid; i < TM * HC; i += g)
    {{
        int r = i / HC;
        int c = h0 + (i - (r * HC));
        float v = 0f;
        if (r < n && c < H)
        {{
            {upAcc}
        }}

        hs[i] = v;
    }}

    global::ILGPU.Group.Barrier();
    int cMax = H - h0 < HC ? H - h0 : HC;
    for (int i = tid; i < TM * D; i += g)
    {{
        int r = i / D;
        if (r < n)
        {{
            int d = i - (r * D);
            float acc = 0f;
            for (int c = 0; c < cMax; c++)
            {{
                acc += hs[(r * HC) + c] * w2[((((long)e * H) + h0 + c) * D) + d];
            }}

            y[((long)(start + r) * D) + d] += acc;
        }}
    }}

    global::ILGPU.Group.Barrier();
}}
";
        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}ExpertFfn", true, ps, body, new Dictionary<string, string> { ["offsets"] = offsets });
    }

    private static EmittedKernel Combine(PlannedKernel k)
    {
        if (k.Nodes.Count != 1)
        {
            throw NoTemplate(k);
        }

        var n = k.Nodes[0];
        var ps = new List<KernelParam>
        {
            new(BindingKind.Buffer, n.Operands[0], F, "y"),
            new(BindingKind.Buffer, n.Operands[1], I, "experts"),
            new(BindingKind.Buffer, n.Operands[2], F, "gates"),
            new(BindingKind.Buffer, n.Operands[3], I, "slots"),
            new(BindingKind.Meta, "", I, "meta"),
            new(BindingKind.Buffer, n.Results[0], F, "output"),
        };
        var body = $@"// gather + weighted sum over the token's kept choices, in choice order.
int i = index;
int t = i / D;
int d = i - (t * D);
float acc = 0f;
for (int j = 0; j < K; j++)
{{
    long c = ((long)t * K) + j;
    int slot = slots[c];
    if (slot >= 0)
    {{
        long row = meta[{MetaOffset(n.Operands[4])} + experts[c]] + slot;
        acc += gates[c] * y[(row * D) + d];
    }}
    else if (gates[c] != gates[c])
    {{
        // A non-finite token chose no expert: its output is NaN, not zero.
        acc = float.NaN;
    }}
}}

output[i] = acc;
";
        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}Combine", false, ps, body, new Dictionary<string, string> { ["offsets"] = MetaOffset(n.Operands[4]) });
    }

    private static void CheckWritten(PlannedKernel kernel, KernelPlan plan, EmittedKernel emitted)
    {
        var written = new HashSet<string>(emitted.Parameters.Where(p => p.Kind == BindingKind.Buffer).Select(p => p.Value));
        foreach (var m in plan.Materialized.Where(m => m.Kernel == kernel.Index && m.Type.Shape.Any(d => d.IsSymbolic)))
        {
            if (!written.Contains(m.Value))
            {
                throw new CompileException($"k{kernel.Index} {kernel.Name}: %{m.Value} is read outside the kernel, but the fused template keeps it in registers");
            }
        }
    }

    private static KernelAssemblyException NoTemplate(PlannedKernel k) =>
        new KernelAssemblyException($"k{k.Index}: no ILGPU template fuses [{string.Join(", ", k.OpNames)}]");
}
