using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json.Nodes;
using ILGPU.Runtime;
using Wudao.GpuRunner.Report;

namespace Wudao.GpuRunner.Bench;

/// <summary>A benchmarked MoE layer: its name in the table, its declaration, and the token counts it runs.</summary>
public sealed record MoeShape(string Name, MoeLayerInfo Info, Func<Session, MoeWeights, IMoeLayer> Create, int[] Tokens)
{
    public string Describe => $"d={Info.Dim}, E={Info.Experts}, k={Info.TopK}, h={Info.Hidden}, {Info.Activation}";

    public string Benchmark(int tokens) => $"{Name} MoE layer ({Describe}), T={tokens}";
}

/// <summary>
/// A generated MoE layer on the accelerator: the whole forward (one host synchronisation, as the
/// plan says), then its stages one by one through <see cref="IMoeStages"/> on buffers of their
/// own: gate, dispatch and combine as bytes moved per second over the memory bandwidth, the expert
/// FFN as FLOP/s over the fp32 peak. Writes the weights, inputs and outputs for the PyTorch peer.
/// </summary>
public static class MoeBench
{
    public static IEnumerable<ResultRow> Run(Session session, MoeShape shape, BenchSettings settings, double? copyGbps)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(settings);
        var info = shape.Info;
        var weights = BenchData.Weights(info.Weights, seed: 1);
        var inputs = shape.Tokens.ToDictionary(t => t, t => BenchData.Inputs(t * info.Dim, seed: (ulong)t + 7));

        // The peer's files first, Wudao's outputs as they come: a run cut short still leaves the
        // PyTorch peer its weights and inputs.
        var folder = settings.Exchange == null ? null : new PeerFiles(settings.Exchange).Folder($"moe-{shape.Name.ToLowerInvariant()}");
        var manifest = new JsonObject();
        var cases = new Dictionary<int, JsonObject>();
        if (folder != null)
        {
            var tensors = new JsonObject();
            foreach (var name in weights.Names)
            {
                var w = weights[name];
                tensors[name] = PeerFiles.Tensor(folder, name + ".f32", w.Data, w.Shape.ToArray());
            }

            foreach (var t in shape.Tokens)
            {
                cases[t] = new JsonObject
                {
                    ["tokens"] = t,
                    ["benchmark"] = shape.Benchmark(t),
                    ["x"] = PeerFiles.Tensor(folder, $"x-{t}.f32", inputs[t], t, info.Dim),
                    ["expert_flops"] = ExpertFlops(info, t),
                };
            }

            manifest = new JsonObject
            {
                ["kind"] = "moe",
                ["name"] = shape.Name,
                ["dim"] = info.Dim,
                ["experts"] = info.Experts,
                ["top_k"] = info.TopK,
                ["hidden"] = info.Hidden,
                ["activation"] = info.Activation.ToString().ToLowerInvariant(),
                ["weights"] = tensors,
                ["cases"] = new JsonArray(shape.Tokens.Select(t => (JsonNode?)cases[t]).ToArray()),
                ["peak_tflops"] = settings.PeakTflops,
                ["flop_ceiling"] = settings.FlopCeiling,
            };
            PeerFiles.Manifest(folder, manifest);
        }

        var implementation = $"Wudao ({session.Kind})";
        var rows = new List<ResultRow>();
        using var layer = shape.Create(session, weights);
        var sync = () => session.Accelerator.Synchronize();
        var plan = info.PlanText.Split('\n')[0];
        var syncs = plan.Contains('(', StringComparison.Ordinal) ? plan[(plan.IndexOf('(', StringComparison.Ordinal) + 1)..].TrimEnd(')') : plan;
        foreach (var t in shape.Tokens)
        {
            using var input = session.Upload(inputs[t], t, info.Dim);
            var whole = Timing.Measure(() => layer.Forward(input).Dispose(), sync, settings.Warmup, settings.Runs, budgetMs: settings.BudgetMs);
            var tflops = ExpertFlops(info, t) / (whole.Median * 1e-3) / 1e12;
            rows.Add(new ResultRow("moe", shape.Benchmark(t), implementation, ResultsReport.Whole, whole.Median, whole.Min, whole.Ms.Length,
                tflops, "TFLOP/s", tflops / settings.PeakTflops, settings.FlopCeiling, Note: $"plan: {syncs}"));
            if (folder != null)
            {
                using var result = layer.Forward(input);
                cases[t]["wudao_out"] = PeerFiles.Tensor(folder, $"out-{t}.f32", result.Output.ToArray(), t, info.Dim);
                cases[t]["wudao_ms"] = whole.Median;
                PeerFiles.Manifest(folder, manifest);
            }

            rows.AddRange(Stages(session, (IMoeStages)layer, input, t, settings, copyGbps, shape.Benchmark(t), implementation));
        }

        return rows;
    }

    /// <summary>FLOPs of the expert FFN: T·k rows through w1 [d, h or 2h] and w2 [h, d], two FLOPs a multiply-add.</summary>
    public static double ExpertFlops(MoeLayerInfo info, int tokens)
    {
        ArgumentNullException.ThrowIfNull(info);
        var w1 = info.Weights.Single(w => w.Name == "experts.w1").Shape;
        return 2.0 * tokens * info.Choices * ((double)info.Dim * w1[^1] + ((double)info.Hidden * info.Dim));
    }

    /// <summary>
    /// Bytes gate, dispatch and combine must move at the least (fp32 values, int32 indices), for
    /// T tokens and T·k rows: gate reads x and the router weight and writes probs, experts and
    /// gates; dispatch reads and writes each row; combine reads the rows and writes the output.
    /// </summary>
    public static (double Gate, double Dispatch, double Combine) StageBytes(MoeLayerInfo info, int tokens)
    {
        ArgumentNullException.ThrowIfNull(info);
        double t = tokens, d = info.Dim, e = info.Experts, rows = t * info.Choices;
        return ((t * d * 4) + (d * e * 4) + (t * e * 4) + (rows * 8), (rows * d * 4 * 2) + (rows * 8), (rows * d * 4) + (t * d * 4) + (rows * 12));
    }

    private static IEnumerable<ResultRow> Stages(Session session, IMoeStages stages, DeviceTensor input, int t, BenchSettings settings, double? copyGbps, string benchmark, string implementation)
    {
        var info = stages.Info;
        int e = info.FfnExperts, k = info.Choices, d = info.Dim;
        using var scope = session.Pool.BeginScope();
        var args = new LayerArgs(t, stages.Capacity(t), stages.RoutingSeed, step: 0, training: false);
        var x = input.View.BaseView;
        var probs = scope.F32((long)t * e);
        var experts = scope.I32((long)t * k);
        var gates = scope.F32((long)t * k);
        var slots = scope.I32((long)t * k);
        var meta = scope.I32(stages.MetaLength);
        var gathered = scope.I32(stages.PartialsLength);
        var rows = scope.F32((long)t * k * d);
        var y = scope.F32((long)t * k * d);
        var lse = scope.F32(Math.Max(1, t));
        var pload = scope.F32(info.Router == RouterKind.NoisyTopK ? (long)t * e : 0);
        var output = scope.F32((long)t * d);

        // One pass through every stage leaves the buffers each timed stage reads; each stage is
        // then repeated alone: gate, dispatch, experts and combine rewrite what they wrote.
        stages.Gate(x, default, probs, experts, gates, lse, pload, args);
        stages.Route(x, probs, experts, gates, lse, pload, slots, meta, gathered, args);
        var bound = new int[1];
        meta.SubView(stages.MetaOffsetsAt + e, 1).CopyToCPU(session.Accelerator.DefaultStream, bound);
        session.Accelerator.Synchronize();
        var sync = () => session.Accelerator.Synchronize();
        Sample Time(Action stage) => Timing.Measure(stage, sync, 1, settings.Runs, Timing.RepeatFor(stage, sync, settings.Quick ? 1 : 5), settings.BudgetMs);
        var dispatch = Time(() => stages.Dispatch(x, experts, slots, meta, rows, args));
        var ffn = Time(() => stages.Experts(rows, meta, y, bound[0]));
        var combine = Time(() => stages.Combine(y, experts, gates, slots, meta, output, args));
        var gate = Time(() => stages.Gate(x, default, probs, experts, gates, lse, pload, args));

        var bytes = StageBytes(info, t);
        var ms = gate.Median + dispatch.Median + combine.Median;
        var gbps = (bytes.Gate + bytes.Dispatch + bytes.Combine) / (ms * 1e-3) / 1e9;
        var note = string.Create(CultureInfo.InvariantCulture, $"gate {gate.Median:0.####} ms, dispatch {dispatch.Median:0.####} ms, combine {combine.Median:0.####} ms");
        if (copyGbps is { } copy)
        {
            note += string.Create(CultureInfo.InvariantCulture, $"; {gbps / copy:P0} of the device copy measured in this run ({copy:0} GB/s)");
        }

        yield return new ResultRow("moe-stage", benchmark, implementation, "gate + dispatch + combine", ms, gate.Min + dispatch.Min + combine.Min, Math.Min(gate.Ms.Length, Math.Min(dispatch.Ms.Length, combine.Ms.Length)),
            gbps, "GB/s", gbps * 1e9 / (settings.HbmGbps * 1e9), settings.MemoryCeiling, Note: note);
        var tflops = ExpertFlops(info, t) / (ffn.Median * 1e-3) / 1e12;
        var weightGbps = ExpertWeightBytes(info, t) / (ffn.Median * 1e-3) / 1e9;
        yield return new ResultRow("moe-stage", benchmark, implementation, "expert FFN", ffn.Median, ffn.Min, ffn.Ms.Length,
            tflops, "TFLOP/s", tflops / settings.PeakTflops, settings.FlopCeiling,
            Note: string.Create(CultureInfo.InvariantCulture, $"expert weights read at {weightGbps:0} GB/s = {weightGbps / settings.HbmGbps:P0} of HBM"));
    }

    /// <summary>Bytes of the experts' weights a call must read: every expert some row reaches, at most min(E, T·k).</summary>
    private static double ExpertWeightBytes(MoeLayerInfo info, int tokens)
    {
        var perExpert = info.Weights.Where(w => w.Name.StartsWith("experts.", StringComparison.Ordinal))
            .Sum(w => w.Shape.Aggregate(1.0, (a, s) => a * s)) / info.FfnExperts;
        return Math.Min(info.FfnExperts, (double)tokens * info.Choices) * perExpert * 4;
    }
}
