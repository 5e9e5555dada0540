using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Wudao.Compiler;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;
using Wudao.Tool.Sources;
using SpecRouterKind = Wudao.Compiler.Spec.RouterKind;

namespace Wudao.Tool.Reports;

/// <summary>
/// What <c>wudao plan</c> prints for one declaration: what was declared, the graph (IR text), the
/// plan (kernels and the ops each holds, fusions refused and why, schedules), and every device
/// buffer and weight with its dtype, shape and bytes at a token count.
/// </summary>
public static class PlanReport
{
    public static void Write(TextWriter w, Declared declared, int tokens, bool train = false)
    {
        switch (declared)
        {
            case DeclaredLayer layer:
                var compiled = MoeCompiler.Compile(layer.Spec);
                Header(w, layer, Describe(layer.Spec));
                Section(w, "graph", compiled.Graph.ToString());
                Section(w, "plan", compiled.PlanText);
                Memory(w, compiled.Plan, tokens);
                if (train)
                {
                    Section(w, "train plan", compiled.TrainPlanText);
                }

                break;

            case DeclaredModel model:
                var m = ModelCompiler.Compile(model.Spec);
                Header(w, model, Describe(model.Spec));
                Section(w, "graph", m.Graph.ToString());
                Section(w, "plan", m.PlanText);
                Memory(w, m.Plan, tokens);

                // Each MoE block runs the feed-forward's own plan (printed above): its graph and memory follow.
                w.WriteLine();
                Header(w, new DeclaredLayer(model.Spec.Moe, $"MoeFeedForward of {model.Spec.ClassName}"), Describe(model.Spec.Moe));
                Section(w, "graph", m.Moe.Graph.ToString());
                if (train)
                {
                    Section(w, "train plan of the model", m.TrainPlanText);
                    Section(w, "train plan of each MoE block", m.Moe.TrainPlanText);
                }

                var blocks = m.Graph.Nodes.Where(n => n.Op == Ops.Moe).Select(n => n.Attr("weights") ?? "").ToList();
                Memory(w, m.Moe.Plan, tokens, $"weights of each MoE block, named under {string.Join(", ", blocks)}");

                var moeWeights = BufferMemory.Weights(m.Moe.Plan);
                var modelWeights = BufferMemory.Weights(m.Plan);
                w.WriteLine();
                w.WriteLine($"model weights in all ({modelWeights.Count} + {blocks.Count} blocks x {moeWeights.Count}): "
                    + $"{Sizes.Count(modelWeights.Sum(b => b.Elements) + (blocks.Count * moeWeights.Sum(b => b.Elements)))} parameters, "
                    + $"{Sizes.Bytes(modelWeights.Sum(b => b.Bytes) + (blocks.Count * moeWeights.Sum(b => b.Bytes)))} bytes");
                break;

            case DeclaredAttention attention:
                Header(w, attention, $"head dim {attention.Spec.HeadDim}{(attention.Spec.IsStatic ? ", static class" : "")}");
                w.WriteLine("  one fused attention op (native and ILGPU kernels): no graph to plan or fuse");
                break;
        }
    }

    private static void Header(TextWriter w, Declared d, string summary)
    {
        w.WriteLine($"{d.Attribute} {d.FullName}");
        w.WriteLine("  " + summary);
    }

    private static void Section(TextWriter w, string title, string text)
    {
        w.WriteLine();
        w.WriteLine(title);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            w.WriteLine(line.Length == 0 ? "" : "  " + line);
        }
    }

    /// <summary>Device buffers at <paramref name="tokens"/> tokens, then the weights the plan binds.</summary>
    private static void Memory(TextWriter w, KernelPlan plan, int tokens, string weightsTitle = "weights")
    {
        var bounds = BufferMemory.Bounds(plan, tokens);
        var rows = bounds.TryGetValue("S", out var s) ? $", S ≤ {Sizes.Count(s)} expert rows" : "";
        w.WriteLine();
        w.WriteLine($"buffers at T = {Sizes.Count(tokens)} tokens{rows}");
        var buffers = new TextTable("value", "dtype", "shape", ">elements", ">bytes", "written by");
        var all = BufferMemory.Buffers(plan, tokens);
        foreach (var b in all)
        {
            buffers.Add("%" + b.Value, b.Type.DType.ToText(), Shape(b), Sizes.Count(b.Elements), Sizes.Bytes(b.Bytes), $"k{b.Kernel} {plan.Kernels[b.Kernel].Name}");
        }

        buffers.Total($"{all.Count} buffers", "", "", Sizes.Count(all.Sum(b => b.Elements)), Sizes.Bytes(all.Sum(b => b.Bytes)), "");
        w.Write(buffers.Render());

        var weights = BufferMemory.Weights(plan);
        if (weights.Count == 0)
        {
            return;
        }

        w.WriteLine();
        w.WriteLine(weightsTitle);
        var table = new TextTable("name", "value", "dtype", "shape", ">parameters", ">bytes");
        foreach (var (size, binding) in weights.Zip(plan.Weights, (size, binding) => (size, binding)))
        {
            table.Add(size.Value, "%" + binding.Value, size.Type.DType.ToText(), Shape(size), Sizes.Count(size.Elements), Sizes.Bytes(size.Bytes));
        }

        table.Total($"{weights.Count} weights", "", "", "", Sizes.Count(weights.Sum(b => b.Elements)), Sizes.Bytes(weights.Sum(b => b.Bytes)));
        w.Write(table.Render());
    }

    private static string Shape(BufferSize b) => "[" + string.Join(",", b.Type.Shape) + "]";

    private static string Describe(MoeLayerSpec s)
    {
        var parts = new List<string>
        {
            $"dim {s.Dim}",
            $"{s.Experts} experts",
            s.Router == SpecRouterKind.ExpertChoice ? "expert choice" : $"top-{s.TopK}",
            $"hidden {s.Hidden}",
            s.Activation.ToString(),
            $"{s.Router} router",
        };
        if (s.CapacityFactor > 0f)
        {
            parts.Add("capacity factor " + s.CapacityFactor.ToString(CultureInfo.InvariantCulture));
        }

        if (s.SharedExperts > 0)
        {
            parts.Add($"{s.SharedExperts} shared experts");
        }

        if (s.Ranks > 0)
        {
            parts.Add($"experts over {s.Ranks} ranks");
        }

        return string.Join(", ", parts);
    }

    private static string Describe(ModelSpec s) =>
        $"vocab {s.Vocab}, dim {s.Dim}, {s.Layers} layers, max sequence {s.MaxSequence}, {s.Norm}, "
        + $"{s.Heads} heads ({s.KvHeads} KV), position {s.Position}, "
        + (s.Every == 1 ? "MoE feed-forward in every block" : $"MoE feed-forward every {s.Every} blocks (dense hidden {s.DenseHidden} between)");
}
