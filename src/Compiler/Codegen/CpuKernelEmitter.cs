using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The second schedule of the same plan: each planned kernel (same ops, same bindings as the
/// ILGPU kernel) becomes a method of a <c>CpuKernels</c> class that runs natively, vectorised with
/// Vector512/Vector256 and split into work items over the session's CPU threads. Shapes are
/// compile-time constants here too. The generated code needs no <c>unsafe</c>: buffers are
/// reached through refs.
/// </summary>
public static class CpuKernelEmitter
{
    /// <summary>Tokens per work item of the row-wise kernels.</summary>
    public const int TokenChunk = 32;

    /// <summary>Rows of one expert tile; a multiple of the micro-kernel's 6 rows.</summary>
    public const int TileRows = 96;

    /// <summary>Depth of one GEMM K block: a 32-wide B panel of it is 32 KiB, L1-resident.</summary>
    public const int KBlock = 256;

    /// <summary>Field of the kernel set bound to a parameter.</summary>
    public static string Field(KernelParam p) => p.Kind switch
    {
        BindingKind.Input => "in_" + p.Value,
        BindingKind.Weight => "w_" + p.Value,
        BindingKind.Buffer => "v_" + p.Value,
        BindingKind.Meta => "meta",
        _ => "args",
    };

    /// <summary>Weights the expert kernel reads as packed GEMM panels.</summary>
    public static IEnumerable<string> PackedWeights(IReadOnlyList<EmittedKernel> kernels) =>
        kernels.Where(k => k.Space == IterationSpace.ExpertRows)
            .SelectMany(k => k.Parameters.Where(p => p.Name is "w1" or "w2").Select(p => p.Value));

    public static void Emit(SourceWriter w, KernelPlan plan, IReadOnlyList<EmittedKernel> kernels)
    {
        var mlp = FusedMlp.From(plan.Kernels.First(k => k.Space == IterationSpace.ExpertRows), plan);
        // The gates buffer combine reads: dispatch copies each kept choice's gate next to its row.
        var gatesField = Field(kernels.First(k => k.Space == IterationSpace.TokenGather).Parameters.First(p => p.Name == "gates"));
        w.Line("/// <summary>The same plan as <see cref=\"Kernels\"/>, scheduled for the CPU: vectorised and multi-threaded.</summary>");
        w.Open("public sealed class CpuKernels : global::Wudao.CpuKernelSet");
        w.Line($"public CpuKernels() : base(new string[] {{ {string.Join(", ", kernels.Select(k => "\"" + k.Role + "\""))} }}) {{ }}");
        w.Line();
        w.Line($"public const int TokenChunk = {TokenChunk};");
        w.Line($"public const int TileRows = {TileRows};");
        w.Line($"public const int KC = {KBlock};");
        w.Line("public const int MR = 6;");
        w.Line($"public const int LogitRows = {LogitRows};");
        w.Line("/// <summary>Scratch floats per worker: an expert tile's hidden rows, or a per-token gate's rows and its batched logits.</summary>");
        w.Line("public const int ScratchFloats = TileRows * Kernels.H1 > (3 + (2 * LogitRows)) * Kernels.ER ? TileRows * Kernels.H1 : (3 + (2 * LogitRows)) * Kernels.ER;");
        w.Line();
        w.Line("/// <summary>Micro-kernel width: two vectors of 16 floats with AVX-512, of 8 otherwise.</summary>");
        w.Line("public static readonly bool Wide = global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;");
        w.Line("public static readonly int NR = Wide ? 32 : 16;");
        w.Line();
        var fields = kernels.SelectMany(k => k.Parameters).GroupBy(Field).Select(g => g.First()).ToList();
        foreach (var p in fields)
        {
            var type = p.Kind == BindingKind.Args ? "global::Wudao.LayerArgs" : p.CsType;
            w.Line($"public {type} {Field(p)};");
        }

        foreach (var value in PackedWeights(kernels))
        {
            w.Line($"public float[] p_{value} = global::System.Array.Empty<float>();");
        }

        w.Line("public global::ILGPU.ArrayView<float> scratch;");
        w.Line("/// <summary>When set, dispatch keeps each row's gate in <see cref=\"rowgates\"/>, the second GEMM's epilogue applies it and combine only sums.</summary>");
        w.Line("public bool rowsScaled;");
        w.Line("public global::ILGPU.ArrayView<float> rowgates;");

        w.Line("public int tiles;");
        w.Line();
        w.Open("public override void Run(int kernel, int item, int worker)");
        w.Open("switch (kernel)");
        foreach (var k in kernels)
        {
            w.Line($"case {k.Index}: {k.Method}(item, worker); break;");
        }

        w.Line("default: throw new global::System.ArgumentOutOfRangeException(nameof(kernel));");
        w.Close();
        w.Close();
        w.Line();
        EmitLaunch(w, kernels);
        foreach (var k in kernels)
        {
            w.Line();
            w.Open($"public void {k.Method}(int item, int worker)");
            foreach (var p in k.Facts.ContainsKey("per_token") ? new List<KernelParam>() : k.Parameters)
            {
                w.Line(Prologue(p));
            }

            w.Lines(Body(k, gatesField, mlp));
            w.Close();
        }

        w.Line();
        w.Lines(Helpers);
        if (mlp.Activation != null)
        {
            w.Lines(ActivationRowEmitter.Emit(mlp.Activation, "ActivateRow", "Kernels.H", "Wide"));
            w.Line();
        }

        if (mlp.UpBias == null || mlp.DownBias == null)
        {
            w.Line("/// <summary>The bias of a GEMM that has none.</summary>");
            w.Line("private static readonly float[] Zeros = new float[Kernels.H1 > Kernels.D ? Kernels.H1 : Kernels.D];");
        }
        w.Close();
        w.Line();
    }

    private static void EmitLaunch(SourceWriter w, IReadOnlyList<EmittedKernel> kernels)
    {
        w.Line("/// <summary>Runs the plan for <paramref name=\"t\"/> tokens; buffers and args must be bound.</summary>");
        w.Open("public void Launch(global::Wudao.CpuWorkers workers, int t)");
        w.Line("long start;");
        foreach (var k in kernels)
        {
            // Work items: expert tiles, or chunks of TokenChunk tokens (gate, dispatch, combine).
            var count = k.Space == IterationSpace.ExpertRows ? "tiles" : "(t + TokenChunk - 1) / TokenChunk";
            if (k.Space == IterationSpace.ExpertRows)
            {
                w.Line($"tiles = CountTiles(ref global::Wudao.CpuMemory.Ref(meta), Kernels.{k.Facts["offsets"]});");
            }

            w.Line("start = global::System.Diagnostics.Stopwatch.GetTimestamp();");
            w.Line(k.Space == IterationSpace.TokenScan ? $"{k.Method}(0, 0);" : $"workers.For(this, {k.Index}, {count});");
            w.Line($"ElapsedTicks[{k.Index}] += global::System.Diagnostics.Stopwatch.GetTimestamp() - start;");
        }

        w.Close();
    }

    private static string Prologue(KernelParam p) => p switch
    {
        { Kind: BindingKind.Args } => "var args = this.args;",
        { Kind: BindingKind.Weight, Name: "w1" or "w2" } => $"ref float {p.Name} = ref global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(p_{p.Value});",
        _ => $"ref {(p.CsType.EndsWith("<int>", System.StringComparison.Ordinal) ? "int" : "float")} {p.Name} = ref global::Wudao.CpuMemory.Ref(this.{Field(p)});",
    };

    private static string Body(EmittedKernel k, string gatesField, FusedMlp mlp) => k.Space switch
    {
        IterationSpace.TokenRows => Gate(k),
        IterationSpace.TokenScan => Route(k),
        IterationSpace.Choices => Dispatch(k, gatesField),
        IterationSpace.ExpertRows => ExpertFfn(mlp),
        _ => Combine(k),
    };

    private static string Gate(EmittedKernel k)
    {
        if (k.Facts.TryGetValue("per_token", out var rows))
        {
            return PerTokenGate(k, rows);
        }

        var renorm = k.Facts["renorm"] == "true";
        var drop = k.Facts["second_drop"] == "true";
        var eps = k.Facts["jitter"];
        var body = @"int t0 = item * TokenChunk;
int t1 = global::System.Math.Min(args.Tokens, t0 + TokenChunk);
global::System.Span<float> logits = stackalloc float[Kernels.E];
global::System.Span<float> logits4 = stackalloc float[LogitRows * Kernels.E];
for (int t = t0; t < t1; t++)
{
MATMUL

    // softmax
    ref float p = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, t * Kernels.E);
    float max = float.NegativeInfinity;
    for (int e = 0; e < Kernels.E; e++)
    {
        max = logits[e] > max ? logits[e] : max;
    }

    float sum = Exponentiate(logits, max);
    for (int e = 0; e < Kernels.E; e++)
    {
        global::System.Runtime.CompilerServices.Unsafe.Add(ref p, e) = logits[e] / sum;
    }
LSE
TOPK";
        const string topk = @"
    // topk: largest first, ties to the lower expert.
    float prevV = float.PositiveInfinity;
    int prevE = -1;
    float chosen = 0f;
    int c0 = t * Kernels.K;
    for (int j = 0; j < Kernels.K; j++)
    {
        int best = -1;
        float bestV = 0f;
        for (int e = 0; e < Kernels.E; e++)
        {
            float v = global::System.Runtime.CompilerServices.Unsafe.Add(ref p, e);
            bool eligible = v < prevV || (v == prevV && e > prevE);
            if (eligible && (best < 0 || v > bestV))
            {
                best = e;
                bestV = v;
            }
        }

        // A NaN row has no eligible expert: expert -1 with gate NaN, and combine writes NaN.
        float gv = best < 0 ? float.NaN : bestV;
        global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c0 + j) = best;
        global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c0 + j) = gv;
        chosen += gv;
        prevV = bestV;
        prevE = best;
    }
";
        body = body.Replace("MATMUL\n", eps == "0f"
            ? @"    // matmul: eight tokens' rows against the router weight at once (eight independent sums, each in d order).
    if ((t - t0) % LogitRows == 0)
    {
        Logits(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, t * Kernels.D), global::System.Math.Min(LogitRows, t1 - t), ref wg, logits4);
    }

    logits4.Slice(((t - t0) % LogitRows) * Kernels.E, Kernels.E).CopyTo(logits);
"
            : $@"    // jitter: the router sees x · U(1-eps, 1+eps), drawn per element by its global index.
    for (int d = 0; d < Kernels.D; d++)
    {{
        float u = global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi ^ global::Wudao.CounterRng.JitterStream, args.Step, unchecked(((args.TokenBase + t) * Kernels.D) + d));
        jittered[d] = global::System.Runtime.CompilerServices.Unsafe.Add(ref x, (t * Kernels.D) + d) * (args.Training != 0 ? 1f + ({eps} * ((2f * u) - 1f)) : 1f);
    }}

    Logits(ref jittered[0], 1, ref wg, logits4);
    logits4.Slice(0, Kernels.E).CopyTo(logits);
");
        body = body.Replace("TOPK", k.Facts["topk"] == "true" ? topk : "");
        body = body.Replace("LSE\n", k.Facts["lse"] == "true"
            ? "\n    // logsumexp of the logits, for the router z-loss.\n    global::System.Runtime.CompilerServices.Unsafe.Add(ref lse, t) = max + global::System.MathF.Log(sum);\n"
            : "");
        body = body.Replace("global::System.Span<float> logits4 = stackalloc float[LogitRows * Kernels.E];", eps == "0f"
            ? "global::System.Span<float> logits4 = stackalloc float[LogitRows * Kernels.E];"
            : "global::System.Span<float> logits4 = stackalloc float[LogitRows * Kernels.E];\nglobal::System.Span<float> jittered = stackalloc float[Kernels.D];");
        if (renorm)
        {
            body += @"
    for (int j = 0; j < Kernels.K; j++)
    {
        global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c0 + j) /= chosen;
    }
";
        }

        if (drop)
        {
            body += @"
    if (args.Training != 0 && global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi, args.Step, args.TokenBase + t) >= 2f * global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c0 + 1))
    {
        global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c0 + 1) = -1;
    }
";
        }

        return body + "}\n";
    }

    /// <summary>
    /// The same per-token method as the ILGPU kernel, over this work item's tokens, with the
    /// worker's scratch. Its router GEMVs (named in the kernel's "logits" fact) run vectorised
    /// here, LogitRows tokens at a time, and reach the method precomputed in its scratch row.
    /// </summary>
    private static string PerTokenGate(EmittedKernel k, string rows)
    {
        var scratch = rows == "0" ? "default(global::ILGPU.ArrayView<float>)" : $"this.scratch.SubView((long)worker * ScratchFloats, {rows} * Kernels.ER)";
        var args = string.Join(", ", k.Parameters.Select(p => "this." + Field(p)));
        if (!k.Facts.TryGetValue("logits", out var weights))
        {
            return $@"int t1 = global::System.Math.Min(this.args.Tokens, (item + 1) * TokenChunk);
for (int t = item * TokenChunk; t < t1; t++)
{{
    Kernels.K{k.Index}Token(t, {args}, {scratch}, false);
}}
";
        }

        const string U = "global::System.Runtime.CompilerServices.Unsafe";
        const string M = "global::System.Runtime.InteropServices.MemoryMarshal";
        var x = Field(k.Parameters.First(p => p.Name == "x"));
        var names = weights.Split(',');
        var sb = new System.Text.StringBuilder();
        sb.Append($@"int t0 = item * TokenChunk;
int t1 = global::System.Math.Min(this.args.Tokens, t0 + TokenChunk);
var s = {scratch};
ref float row = ref global::Wudao.CpuMemory.Ref(s);
ref float batch = ref {U}.Add(ref global::Wudao.CpuMemory.Ref(this.scratch), ((nint)worker * ScratchFloats) + ({rows} * Kernels.ER));
for (int t = t0; t < t1; t++)
{{
    int r = (t - t0) % LogitRows;
    if (r == 0)
    {{
");
        for (var i = 0; i < names.Length; i++)
        {
            sb.Append($"        Logits(ref {U}.Add(ref global::Wudao.CpuMemory.Ref(this.{x}), (nint)t * Kernels.D), global::System.Math.Min(LogitRows, t1 - t), ref global::Wudao.CpuMemory.Ref(this.w_{names[i]}), {M}.CreateSpan(ref {U}.Add(ref batch, {i} * LogitRows * Kernels.ER), LogitRows * Kernels.ER));").Append('\n');
        }

        sb.Append("    }").Append('\n').Append('\n');
        for (var i = 0; i < names.Length; i++)
        {
            sb.Append($"    {M}.CreateReadOnlySpan(ref {U}.Add(ref batch, ({i} * LogitRows * Kernels.ER) + (r * Kernels.ER)), Kernels.ER).CopyTo({M}.CreateSpan(ref {U}.Add(ref row, {i} * Kernels.ER), Kernels.ER));").Append('\n');
        }

        sb.Append($"    Kernels.K{k.Index}Token(t, {args}, s, true);").Append('\n').Append('}').Append('\n');
        return sb.ToString();
    }

    private static string Route(EmittedKernel k)
    {
        if (k.Facts.ContainsKey("expert_choice"))
        {
            return CpuRouterTemplates.ExpertChoiceRoute(k);
        }

        var (kept, offsets, dropped) = ("Kernels." + k.Facts["kept"], "Kernels." + k.Facts["offsets"], "Kernels." + k.Facts["dropped"]);
        var routed = k.Facts["routed"];
        var (exempt, limited) = routed == "E" ? ("", "") : ($" || mine >= {routed}", $" && e < {routed}");
        var body = $@"int tokens = args.Tokens;
int cap = args.Capacity;
global::System.Span<int> filled = stackalloc int[Kernels.E];
filled.Clear();

// capacity: choice-major, token order; past the capacity a choice is dropped (slot -1).
for (int j = 0; j < Kernels.K; j++)
{{
    for (int t = 0; t < tokens; t++)
    {{
        int c = (t * Kernels.K) + j;
        int mine = global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c);
        int slot = -1;
        if (mine >= 0)
        {{
            int pos = filled[mine]++;
            if (cap <= 0 || pos < cap{exempt})
            {{
                slot = pos;
            }}
        }}

        global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c) = slot;
    }}
}}

// count + scan
int off = 0;
int lost = 0;
for (int e = 0; e < Kernels.E; e++)
{{
    int f = filled[e];
    int keep = cap > 0 && f > cap{limited} ? cap : f;
    lost += f - keep;
    global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {kept} + e) = keep;
    global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + e) = off;
    off += keep;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + Kernels.E) = off;
global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {dropped}) = lost;
";
        if (k.Facts.ContainsKey("importance"))
        {
            body += CpuRouterTemplates.NoisyLoss(k);
        }

        if (k.Facts.TryGetValue("z", out var z))
        {
            body += $@"
// z_loss: weight · mean over tokens of logsumexp², summed in token order.
float zs = 0f;
for (int t = 0; t < tokens; t++)
{{
    float l = global::System.Runtime.CompilerServices.Unsafe.Add(ref lse, t);
    zs += l * l;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{z}) = global::System.BitConverter.SingleToInt32Bits(tokens > 0 ? {k.Facts["z_weight"]} * (zs / tokens) : 0f);
";
        }

        if (k.Facts.TryGetValue("aux", out var aux))
        {
            aux = "Kernels." + aux;
            body += $@"
// aux_loss: per expert, token-order sums, as the GPU kernel does.
float s = 0f;
for (int e = 0; e < Kernels.E; e++)
{{
    float p = 0f;
    int f = 0;
    for (int t = 0; t < tokens; t++)
    {{
        p += global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, (t * Kernels.E) + e);
        if (global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, t * Kernels.K) == e)
        {{
            f++;
        }}
    }}

    s += tokens > 0 ? (f / (float)tokens) * (p / tokens) : 0f;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {aux}) = global::System.BitConverter.SingleToInt32Bits(args.AuxWeight * Kernels.E * s);
";
        }

        return body;
    }

    private static string Dispatch(EmittedKernel k, string gatesField)
    {
        var offsets = "Kernels." + k.Facts["offsets"];
        var gate = $@"    if (this.rowsScaled)
    {{
        global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.rowgates), row) = global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.{gatesField}), c);
    }}
";
        return $@"int c0 = item * TokenChunk * Kernels.K;
int c1 = global::System.Math.Min(this.args.Tokens * Kernels.K, c0 + (TokenChunk * Kernels.K));
for (int c = c0; c < c1; c++)
{{
    int slot = global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c);
    if (slot < 0)
    {{
        continue;
    }}

    int row = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c)) + slot;
    global::System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, (c / Kernels.K) * Kernels.D), Kernels.D)
        .CopyTo(global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rows, row * Kernels.D), Kernels.D));
{gate}}}
";
    }

    private static string ExpertFfn(FusedMlp mlp)
    {
        var scale = "this.rowsScaled, ref (this.rowsScaled ? ref global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.rowgates), start) : ref h)";
        var offsets = "Kernels." + IlgpuKernelEmitter.MetaOffset(mlp.Offsets);
        var activation = mlp.Activation == null ? "" : @"for (int r = 0; r < n; r++)
{
    ref float hrow = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref h, r * Kernels.H1);
    ActivateRow(ref hrow, ref hrow);
}
";
        string Bias(Node? bias, string param, string width) => bias != null ? $"ref global::System.Runtime.CompilerServices.Unsafe.Add(ref {param}, e * {width})" : "ref Zeros[0]";
        return $@"// This tile: rows [start, start + n) of expert e (tiles are numbered expert by expert).
int tile = item;
int e = -1;
int start = 0;
int n = 0;
for (int ee = 0; ee < Kernels.E && e < 0; ee++)
{{
    int first = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + ee);
    int count = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + ee + 1) - first;
    int tilesHere = (count + TileRows - 1) / TileRows;
    if (tile < tilesHere)
    {{
        e = ee;
        start = first + (tile * TileRows);
        n = global::System.Math.Min(TileRows, count - (tile * TileRows));
    }}
    else
    {{
        tile -= tilesHere;
    }}
}}

if (e < 0)
{{
    return;
}}

// Fused MLP: the hidden tile [n, H1] lives in this worker's scratch, never in shared buffers.
ref float h = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(scratch), worker * ScratchFloats);
Gemm(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rows, start * Kernels.D), Kernels.D, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref w1, e * PanelStride(Kernels.D, Kernels.H1)), Kernels.D, Kernels.H1, ref h, Kernels.H1, n, {Bias(mlp.UpBias, "b1", "Kernels.H1")}, false, ref h);
{activation}
Gemm(ref h, Kernels.H1, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref w2, e * PanelStride(Kernels.H, Kernels.D)), Kernels.H, Kernels.D, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref y, start * Kernels.D), Kernels.D, n, {Bias(mlp.DownBias, "b2", "Kernels.D")}, {scale});
";
    }

    private static string Combine(EmittedKernel k)
    {
        var offsets = "Kernels." + k.Facts["offsets"];
        return $@"int t0 = item * TokenChunk;
int t1 = global::System.Math.Min(this.args.Tokens, t0 + TokenChunk);
global::System.Span<int> rowOf = stackalloc int[Kernels.K];
global::System.Span<float> gateOf = stackalloc float[Kernels.K];
for (int t = t0; t < t1; t++)
{{
    // The token's kept choices, in choice order: their expert rows and gates.
    int n = 0;
    bool poisoned = false;
    for (int j = 0; j < Kernels.K; j++)
    {{
        int c = (t * Kernels.K) + j;
        int slot = global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c);
        float g = global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c);
        poisoned |= slot < 0 && g != g;
        if (slot >= 0)
        {{
            rowOf[n] = (global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c)) + slot) * Kernels.D;

            // With the gate applied in the expert epilogue, combine only sums the rows.
            gateOf[n] = this.rowsScaled ? 1f : g;
            n++;
        }}
    }}

    // Each output element sums its rows in choice order, in registers, and is stored once.
    ref float o = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref output, t * Kernels.D);
    if (poisoned)
    {{
        // A non-finite token chose no expert: its output is NaN, not zero.
        global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref o, Kernels.D).Fill(float.NaN);
        continue;
    }}

    int d = 0;
    if (Wide)
    {{
        for (; d + 16 <= Kernels.D; d += 16)
        {{
            var acc = global::System.Runtime.Intrinsics.Vector512<float>.Zero;
            for (int j = 0; j < n; j++)
            {{
                acc += gateOf[j] * global::System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref y, (nuint)(rowOf[j] + d));
            }}

            global::System.Runtime.Intrinsics.Vector512.StoreUnsafe(acc, ref o, (nuint)d);
        }}
    }}

    for (; d + 8 <= Kernels.D; d += 8)
    {{
        var acc = global::System.Runtime.Intrinsics.Vector256<float>.Zero;
        for (int j = 0; j < n; j++)
        {{
            acc += gateOf[j] * global::System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref y, (nuint)(rowOf[j] + d));
        }}

        global::System.Runtime.Intrinsics.Vector256.StoreUnsafe(acc, ref o, (nuint)d);
    }}

    for (; d < Kernels.D; d++)
    {{
        float acc = 0f;
        for (int j = 0; j < n; j++)
        {{
            acc += gateOf[j] * global::System.Runtime.CompilerServices.Unsafe.Add(ref y, rowOf[j] + d);
        }}

        global::System.Runtime.CompilerServices.Unsafe.Add(ref o, d) = acc;
    }}
}}
";
    }

    private static readonly string Helpers = LogitsHelper() + @"
/// <summary>v[e] = exp(v[e] − max) and returns Σ v, 16 or 8 lanes at a time where the vector units allow.</summary>
private static float Exponentiate(global::System.Span<float> v, float max)
{
    int e = 0;
    float sum = 0f;
    if (Wide)
    {
        var m = global::System.Runtime.Intrinsics.Vector512.Create(max);
        for (; e + 16 <= v.Length; e += 16)
        {
            var x = global::System.Runtime.Intrinsics.Vector512.Exp(global::System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(v), (nuint)e) - m);
            global::System.Runtime.Intrinsics.Vector512.CopyTo(x, v.Slice(e));
            sum += global::System.Runtime.Intrinsics.Vector512.Sum(x);
        }
    }

    var m8 = global::System.Runtime.Intrinsics.Vector256.Create(max);
    for (; e + 8 <= v.Length; e += 8)
    {
        var x = global::System.Runtime.Intrinsics.Vector256.Exp(global::System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(v), (nuint)e) - m8);
        global::System.Runtime.Intrinsics.Vector256.CopyTo(x, v.Slice(e));
        sum += global::System.Runtime.Intrinsics.Vector256.Sum(x);
    }

    for (; e < v.Length; e++)
    {
        v[e] = global::System.MathF.Exp(v[e] - max);
        sum += v[e];
    }

    return sum;
}

/// <summary>Tiles of TileRows rows, counted expert by expert from the scanned offsets.</summary>
public static int CountTiles(ref int meta, int offsets)
{
    int tiles = 0;
    for (int e = 0; e < Kernels.E; e++)
    {
        int count = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, offsets + e + 1) - global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, offsets + e);
        tiles += (count + TileRows - 1) / TileRows;
    }

    return tiles;
}

/// <summary>Floats of one expert's packed weight: ceil(n / NR) panels of k rows by NR columns.</summary>
public static int PanelStride(int k, int n) => ((n + NR - 1) / NR) * k * NR;

/// <summary>
/// Packs [experts, k, n] row-major weights into NR-wide column panels, [e][panel][k][NR], zero
/// padded: the micro-kernel then streams B contiguously. Done once, when the layer is created.
/// </summary>
public static float[] Pack(global::System.ReadOnlySpan<float> w, int experts, int k, int n)
{
    int stride = PanelStride(k, n);
    var packed = new float[experts * stride];
    for (int e = 0; e < experts; e++)
    {
        for (int p = 0; p * NR < n; p++)
        {
            int cols = global::System.Math.Min(NR, n - (p * NR));
            for (int r = 0; r < k; r++)
            {
                w.Slice((e * k * n) + (r * n) + (p * NR), cols).CopyTo(global::System.MemoryExtensions.AsSpan(packed, (e * stride) + (((p * k) + r) * NR), cols));
            }
        }
    }

    return packed;
}

/// <summary>
/// C[m, n] = (A[m, k] · B + bias) · rowScale, B packed in panels. Blocked over k (KC) so a B
/// block stays in L1 while every MR-row block of A passes over it; the first k block starts
/// from the bias, the last one applies the per-row scale (when scaled) before storing.
/// </summary>
private static void Gemm(ref float a, int lda, ref float b, int k, int n, ref float c, int ldc, int m, ref float bias, bool scaled, ref float rowScale)
{
    int panels = (n + NR - 1) / NR;
    global::System.Span<float> edge = stackalloc float[MR * 32];
    global::System.Span<float> edgeBias = stackalloc float[32];
    for (int k0 = 0; k0 < k; k0 += KC)
    {
        int kc = global::System.Math.Min(KC, k - k0);
        bool first = k0 == 0;
        bool scale = scaled && k0 + kc == k;
        for (int p = 0; p < panels; p++)
        {
            ref float bp = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref b, ((p * k) + k0) * NR);
            int cols = global::System.Math.Min(NR, n - (p * NR));
            for (int r0 = 0; r0 < m; r0 += MR)
            {
                int mr = global::System.Math.Min(MR, m - r0);
                ref float ar = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref a, (r0 * lda) + k0);
                ref float cr = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref c, (r0 * ldc) + (p * NR));
                if (cols == NR)
                {
                    Micro(ref ar, lda, ref bp, kc, ref cr, ldc, mr, first, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref bias, p * NR), scale, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rowScale, r0));
                    continue;
                }

                // A partial last panel works on a padded copy of its columns.
                edgeBias.Clear();
                for (int j = 0; j < cols; j++)
                {
                    edgeBias[j] = global::System.Runtime.CompilerServices.Unsafe.Add(ref bias, (p * NR) + j);
                }

                for (int r = 0; r < mr; r++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        edge[(r * NR) + j] = global::System.Runtime.CompilerServices.Unsafe.Add(ref cr, (r * ldc) + j);
                    }
                }

                Micro(ref ar, lda, ref bp, kc, ref edge[0], NR, mr, first, ref edgeBias[0], scale, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rowScale, r0));
                for (int r = 0; r < mr; r++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        global::System.Runtime.CompilerServices.Unsafe.Add(ref cr, (r * ldc) + j) = edge[(r * NR) + j];
                    }
                }
            }
        }
    }
}

private static void Micro(ref float a, int lda, ref float b, int kc, ref float c, int ldc, int mr, bool first, ref float bias, bool scale, ref float rs)
{
    if (Wide)
    {
        Micro512(ref a, lda, ref b, kc, ref c, ldc, mr, first, ref bias, scale, ref rs);
    }
    else
    {
        Micro256(ref a, lda, ref b, kc, ref c, ldc, mr, first, ref bias, scale, ref rs);
    }
}
" + MicroKernel("Vector512", 16) + "\n" + MicroKernel("Vector256", 8);

    /// <summary>Tokens whose router logits are computed together: enough independent FMA chains to hide their latency.</summary>
    public const int LogitRows = 8;

    /// <summary>
    /// logits[r, e] = Σ_d x[r, d]·wg[d, e] for up to <see cref="LogitRows"/> rows at once, 16 then 8
    /// experts per vector, then one at a time; each sum runs in d order. Rows past <c>rows</c>
    /// repeat the last one (valid memory) and are not used.
    /// </summary>
    private static string LogitsHelper()
    {
        // The router's width is ER: routed experts only (DeepSeek's shared experts take no logit).
        var sb = new System.Text.StringBuilder();
        sb.Append("private static void Logits(ref float x, int rows, ref float wg, global::System.Span<float> logits)\n{\n");
        for (var r = 0; r < LogitRows; r++)
        {
            sb.Append($"    ref float x{r} = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, global::System.Math.Min({r}, rows - 1) * Kernels.D);\n");
        }

        sb.Append("    int e0 = 0;\n");
        foreach (var (vec, lanes, wideOnly) in new[] { ("Vector512", 16, true), ("Vector256", 8, false) })
        {
            var v = "global::System.Runtime.Intrinsics." + vec;
            sb.Append(wideOnly ? "    if (Wide)\n    {\n" : "    {\n");
            sb.Append($"        for (; e0 + {lanes} <= Kernels.ER; e0 += {lanes})\n        {{\n");
            for (var r = 0; r < LogitRows; r++)
            {
                sb.Append($"            var a{r} = {v}<float>.Zero;\n");
            }

            sb.Append("            for (int d = 0; d < Kernels.D; d++)\n            {\n");
            sb.Append($"                var w = {v}.LoadUnsafe(ref wg, (nuint)((d * Kernels.ER) + e0));\n");
            for (var r = 0; r < LogitRows; r++)
            {
                sb.Append($"                a{r} = {v}.FusedMultiplyAdd({v}.Create(global::System.Runtime.CompilerServices.Unsafe.Add(ref x{r}, d)), w, a{r});\n");
            }

            sb.Append("            }\n\n");
            for (var r = 0; r < LogitRows; r++)
            {
                sb.Append($"            if (rows > {r})\n            {{\n                {v}.CopyTo(a{r}, logits.Slice(({r} * Kernels.ER) + e0));\n            }}\n");
            }

            sb.Append("        }\n    }\n\n");
        }

        sb.Append(@"    for (; e0 < Kernels.ER; e0++)
    {
        for (int r = 0; r < rows; r++)
        {
            float acc = 0f;
            for (int d = 0; d < Kernels.D; d++)
            {
                acc = global::System.MathF.FusedMultiplyAdd(global::System.Runtime.CompilerServices.Unsafe.Add(ref x, (r * Kernels.D) + d), global::System.Runtime.CompilerServices.Unsafe.Add(ref wg, (d * Kernels.ER) + e0), acc);
            }

            logits[(r * Kernels.ER) + e0] = acc;
        }
    }
}
");
        return sb.ToString();
    }

    /// <summary>
    /// An MR x (2 vectors) register-blocked micro-kernel: 12 accumulators, one broadcast of A and
    /// two loads of B per k. Rows past <c>mr</c> read row mr-1 (valid memory) and are not stored.
    /// </summary>
    private static string MicroKernel(string vec, int lanes)
    {
        var v = "global::System.Runtime.Intrinsics." + vec;
        var bits = vec.Substring("Vector".Length);
        var sb = new System.Text.StringBuilder();
        sb.Append($"private static void Micro{bits}(ref float a, int lda, ref float b, int kc, ref float c, int ldc, int mr, bool first, ref float bias, bool scale, ref float rs)\n{{\n");
        for (var r = 0; r < 6; r++)
        {
            sb.Append($"    ref float a{r} = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref a, global::System.Math.Min({r}, mr - 1) * lda);\n");
        }

        for (var r = 0; r < 6; r++)
        {
            sb.Append($"    ref float c{r} = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref c, global::System.Math.Min({r}, mr - 1) * ldc);\n");
        }

        for (var r = 0; r < 6; r++)
        {
            sb.Append($"    var x{r}0 = first ? {v}.LoadUnsafe(ref bias) : {v}.LoadUnsafe(ref c{r});\n");
            sb.Append($"    var x{r}1 = first ? {v}.LoadUnsafe(ref bias, {lanes}) : {v}.LoadUnsafe(ref c{r}, {lanes});\n");
        }

        sb.Append("    for (int k = 0; k < kc; k++)\n    {\n");
        sb.Append($"        var b0 = {v}.LoadUnsafe(ref b, (nuint)(k * {2 * lanes}));\n");
        sb.Append($"        var b1 = {v}.LoadUnsafe(ref b, (nuint)((k * {2 * lanes}) + {lanes}));\n");
        for (var r = 0; r < 6; r++)
        {
            sb.Append($"        var s{r} = {v}.Create(global::System.Runtime.CompilerServices.Unsafe.Add(ref a{r}, k));\n");
            sb.Append($"        x{r}0 = {v}.FusedMultiplyAdd(s{r}, b0, x{r}0);\n");
            sb.Append($"        x{r}1 = {v}.FusedMultiplyAdd(s{r}, b1, x{r}1);\n");
        }

        sb.Append("    }\n\n");
        sb.Append("    if (scale)\n    {\n");
        for (var r = 0; r < 6; r++)
        {
            sb.Append($"        var g{r} = {v}.Create(global::System.Runtime.CompilerServices.Unsafe.Add(ref rs, global::System.Math.Min({r}, mr - 1)));\n");
            sb.Append($"        x{r}0 *= g{r};\n        x{r}1 *= g{r};\n");
        }

        sb.Append("    }\n\n");
        for (var r = 5; r >= 0; r--)
        {
            // Stored from the last row down, so a clamped duplicate row is overwritten by its original.
            sb.Append($"    if (mr > {r})\n    {{\n        {v}.StoreUnsafe(x{r}0, ref c{r});\n        {v}.StoreUnsafe(x{r}1, ref c{r}, {lanes});\n    }}\n");
        }

        sb.Append("}\n");
        return sb.ToString();
    }
}
