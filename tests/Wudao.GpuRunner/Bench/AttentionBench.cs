using System.Collections.Generic;
using System.Text.Json.Nodes;
using Wudao.Attention;
using Wudao.GpuRunner.Report;

namespace Wudao.GpuRunner.Bench;

/// <summary>
/// Causal attention forward, one sequence of T tokens, H heads of 128 (8 × 4096 × 128; --quick:
/// 2 × 64 × 128) with Wudao's ILGPU kernel, which also writes the log-sum-exp. FLOPs count the
/// causal half: QKᵀ and PV over T(T+1)/2 pairs a head, 2·D each, i.e. 2·H·D·T(T+1).
/// </summary>
public static class AttentionBench
{
    private const int HeadDim = 128;

    public static IEnumerable<ResultRow> Run(Session session, BenchSettings settings)
    {
        int heads = settings.Quick ? 2 : 8, tokens = settings.Quick ? 64 : 4096;
        var benchmark = $"causal attention, {heads} heads x {tokens} tokens x {HeadDim}";
        var shape = new AttentionShape(heads, heads, HeadDim, causal: true);
        var offsets = new[] { 0, tokens };
        var q = BenchData.Inputs(tokens * heads * HeadDim, 21);
        var k = BenchData.Inputs(tokens * heads * HeadDim, 22);
        var v = BenchData.Inputs(tokens * heads * HeadDim, 23);
        using var attention = Attention128.Device(session.Accelerator);
        using var dq = session.Upload(q, tokens, heads, HeadDim);
        using var dk = session.Upload(k, tokens, heads, HeadDim);
        using var dv = session.Upload(v, tokens, heads, HeadDim);
        using var output = session.Pool.RentTensor(tokens, heads, HeadDim);
        using var lse = session.Pool.RentTensor(tokens, heads);
        var sample = Timing.Measure(() => attention.Forward(shape, dq, dk, dv, output, lse, offsets), () => session.Accelerator.Synchronize(), settings.Warmup, settings.Runs, budgetMs: settings.BudgetMs);
        var flops = 2.0 * heads * HeadDim * tokens * (tokens + 1.0);
        var tflops = flops / (sample.Median * 1e-3) / 1e12;
        if (settings.Exchange != null)
        {
            var folder = new PeerFiles(settings.Exchange).Folder("attention");
            PeerFiles.Manifest(folder, new JsonObject
            {
                ["kind"] = "attention",
                ["benchmark"] = benchmark,
                ["heads"] = heads,
                ["tokens"] = tokens,
                ["head_dim"] = HeadDim,
                ["q"] = PeerFiles.Tensor(folder, "q.f32", q, tokens, heads, HeadDim),
                ["k"] = PeerFiles.Tensor(folder, "k.f32", k, tokens, heads, HeadDim),
                ["v"] = PeerFiles.Tensor(folder, "v.f32", v, tokens, heads, HeadDim),
                ["wudao_out"] = PeerFiles.Tensor(folder, "out.f32", output.ToArray(), tokens, heads, HeadDim),
                ["wudao_ms"] = sample.Median,
                ["flops"] = flops,
                ["peak_tflops"] = settings.PeakTflops,
                ["flop_ceiling"] = settings.FlopCeiling,
            });
        }

        yield return new ResultRow("attention", benchmark, $"Wudao ({session.Kind})", ResultsReport.Whole, sample.Median, sample.Min, sample.Ms.Length,
            tflops, "TFLOP/s", tflops / settings.PeakTflops, settings.FlopCeiling, Note: "ILGPU kernel, also writes the log-sum-exp");
    }
}
