using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native gate, per work item of TokenChunk tokens: router logits LogitRows tokens at a time
/// (vectorised GEMV), then the gate's steps per token in the same order as the ILGPU kernel.
/// </summary>
internal static class CpuGateEmitter
{
    private const string U = "global::System.Runtime.CompilerServices.Unsafe";
    private const string M = "global::System.Runtime.InteropServices.MemoryMarshal";

    public static string Body(GateKernel g)
    {
        if (g.TokenBody != null)
        {
            return PerToken(g);
        }

        // Jitter with eps 0 leaves x unchanged: it takes the batched GEMV path like no jitter.
        var jitter = g.Jitter is { } eps && eps != "0f" ? eps : null;
        var body = @"int t0 = item * TokenChunk;
int t1 = global::System.Math.Min(args.Tokens, t0 + TokenChunk);
global::System.Span<float> logits = stackalloc float[Kernels.E];
global::System.Span<float> logits4 = stackalloc float[LogitRows * Kernels.E];
" + (jitter != null ? "global::System.Span<float> jittered = stackalloc float[Kernels.D];\n" : "") + @"for (int t = t0; t < t1; t++)
{
" + (jitter == null
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
        jittered[d] = global::System.Runtime.CompilerServices.Unsafe.Add(ref x, (t * Kernels.D) + d) * (args.Training != 0 ? 1f + ({jitter} * ((2f * u) - 1f)) : 1f);
    }}

    Logits(ref jittered[0], 1, ref wg, logits4);
    logits4.Slice(0, Kernels.E).CopyTo(logits);
") + @"
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
";
        if (g.LogSumExp)
        {
            body += "\n    // logsumexp of the logits, for the router z-loss.\n    global::System.Runtime.CompilerServices.Unsafe.Add(ref lse, t) = max + global::System.MathF.Log(sum);\n";
        }

        if (g.TopK)
        {
            // The same passes as every gate on every target, over this token's probability row.
            var passes = RouterTokenFragments.TopKPasses("Kernels.K", "Kernels.E", $"{U}.Add(ref p, e)", "bestV", $"{U}.Add(ref experts, c0 + j)", $"{U}.Add(ref gates, c0 + j)");
            body += "\n    // topk: largest first, ties to the lower expert.\n    int c0 = t * Kernels.K;\n"
                + string.Join("\n", passes.Split('\n').Select(l => l.Length == 0 ? l : "    " + l));
        }

        if (g.Renorm)
        {
            body += @"
    for (int j = 0; j < Kernels.K; j++)
    {
        global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c0 + j) /= chosen;
    }
";
        }

        if (g.SecondDrop)
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
    /// The shared per-token method over this work item's tokens, with the worker's scratch. Its
    /// router GEMVs (the reading's logit weights) run vectorised here, LogitRows tokens at a
    /// time, and reach the method precomputed in its scratch rows.
    /// </summary>
    private static string PerToken(GateKernel g)
    {
        var rows = g.ScratchRows;
        var scratch = rows == 0 ? "default(global::ILGPU.ArrayView<float>)" : $"this.scratch.SubView((long)worker * ScratchFloats, {rows} * Kernels.ER)";
        var args = string.Join(", ", g.Parameters.Select(p => "this." + CpuKernelEmitter.Field(p)));
        if (g.LogitWeights.Count == 0)
        {
            return $@"int t1 = global::System.Math.Min(this.args.Tokens, (item + 1) * TokenChunk);
for (int t = item * TokenChunk; t < t1; t++)
{{
    Kernels.{g.TokenMethod}(t, {args}, {scratch}, false);
}}
";
        }

        var x = CpuKernelEmitter.Field(g.Parameters.First(p => p.Name == "x"));
        var weights = g.LogitWeights.Select(name => CpuKernelEmitter.Field(g.Parameters.First(p => p.Name == name))).ToList();
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
        for (var i = 0; i < weights.Count; i++)
        {
            sb.Append($"        Logits(ref {U}.Add(ref global::Wudao.CpuMemory.Ref(this.{x}), (nint)t * Kernels.D), global::System.Math.Min(LogitRows, t1 - t), ref global::Wudao.CpuMemory.Ref(this.{weights[i]}), {M}.CreateSpan(ref {U}.Add(ref batch, {i} * LogitRows * Kernels.ER), LogitRows * Kernels.ER));").Append('\n');
        }

        sb.Append("    }").Append('\n').Append('\n');
        for (var i = 0; i < weights.Count; i++)
        {
            sb.Append($"    {M}.CreateReadOnlySpan(ref {U}.Add(ref batch, ({i} * LogitRows * Kernels.ER) + (r * Kernels.ER)), Kernels.ER).CopyTo({M}.CreateSpan(ref {U}.Add(ref row, {i} * Kernels.ER), Kernels.ER));").Append('\n');
        }

        sb.Append($"    Kernels.{g.TokenMethod}(t, {args}, s, true);").Append('\n').Append('}').Append('\n');
        return sb.ToString();
    }
}
