using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native gate, per work item of TokenChunk tokens: the gate's per-token method (the same
/// code the ILGPU kernel runs) with a slice of the worker's scratch. Its router GEMVs (the
/// reading's logit weights) run vectorised here, LogitRows tokens at a time, and reach the method
/// precomputed in its scratch rows.
/// </summary>
internal static class CpuGateEmitter
{
    private const string U = "global::System.Runtime.CompilerServices.Unsafe";
    private const string M = "global::System.Runtime.InteropServices.MemoryMarshal";

    /// <summary>Scratch floats per worker: the gate's rows, its GEMVs' batch of LogitRows tokens each, and the batch's loaded rows when on-load ops (jitter) stand before the GEMVs.</summary>
    public static string ScratchFloats(GateKernel g) =>
        $"(({g.ScratchRows} + ({g.LogitWeights.Count} * LogitRows)) * Kernels.ER){(g.GemvLoad != null ? " + (LogitRows * Kernels.D)" : "")}";

    public static string Body(GateKernel g)
    {
        var rows = g.ScratchRows;
        var scratch = rows == 0 ? "default(global::ILGPU.ArrayView<float>)" : $"this.scratch.SubView((long)worker * ScratchFloats, {rows} * Kernels.ER)";
        var args = string.Join(", ", g.Parameters.Select(p => "this." + CpuKernelEmitter.Field(p)));
        string Call(string scratchRows, string ready) => g.SavingBody == null
            ? $"Kernels.{g.TokenMethod}(t, {args}, {scratchRows}, {ready});"
            : $"if (this.saving) Kernels.{g.TokenMethod}Saving(t, {args}, {string.Join(", ", g.Saves.Select(p => "this." + p.Name))}, {scratchRows}, {ready}); else Kernels.{g.TokenMethod}(t, {args}, {scratchRows}, {ready});";
        if (g.LogitWeights.Count == 0)
        {
            return $@"int t1 = global::System.Math.Min(this.args.Tokens, (item + 1) * TokenChunk);
for (int t = item * TokenChunk; t < t1; t++)
{{
    {Call(scratch, "false")}
}}
";
        }

        var x = CpuKernelEmitter.Field(g.Parameters.First(p => p.Name == "x"));
        var weights = g.LogitWeights.Select(name => CpuKernelEmitter.Field(g.Parameters.First(p => p.Name == name))).ToList();
        var batchFloats = $"{weights.Count} * LogitRows * Kernels.ER";
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
        int n = global::System.Math.Min(LogitRows, t1 - t);
");
        var input = $"ref {U}.Add(ref global::Wudao.CpuMemory.Ref(this.{x}), (nint)t * Kernels.D)";
        if (g.GemvLoad != null)
        {
            // The GEMVs read the row as the gate loads it (jitter): load the batch's rows once, by the op's own formula.
            var element = $"{U}.Add(ref global::Wudao.CpuMemory.Ref(this.{x}), ((nint)(t + i) * Kernels.D) + d)";
            sb.Append($@"        ref float loaded = ref {U}.Add(ref batch, {batchFloats});
        for (int i = 0; i < n; i++)
        {{
            for (int d = 0; d < Kernels.D; d++)
            {{
                {U}.Add(ref loaded, (i * Kernels.D) + d) = {g.GemvLoad("(t + i)", "d", "this.args", element)};
            }}
        }}

");
            input = "ref loaded";
        }

        for (var i = 0; i < weights.Count; i++)
        {
            sb.Append($"        Logits({input}, n, ref global::Wudao.CpuMemory.Ref(this.{weights[i]}), {M}.CreateSpan(ref {U}.Add(ref batch, {i} * LogitRows * Kernels.ER), LogitRows * Kernels.ER));").Append('\n');
        }

        sb.Append("    }").Append('\n').Append('\n');
        for (var i = 0; i < weights.Count; i++)
        {
            sb.Append($"    {M}.CreateReadOnlySpan(ref {U}.Add(ref batch, ({i} * LogitRows * Kernels.ER) + (r * Kernels.ER)), Kernels.ER).CopyTo({M}.CreateSpan(ref {U}.Add(ref row, {i} * Kernels.ER), Kernels.ER));").Append('\n');
        }

        sb.Append($"    {Call("s", "true")}").Append('\n').Append('}').Append('\n');
        return sb.ToString();
    }
}
