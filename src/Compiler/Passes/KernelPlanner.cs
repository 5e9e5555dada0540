using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Turns fused kernels into a plan: which values must live in device memory, which weights bind,
/// tile sizes, and how many host synchronisations a call needs.
/// </summary>
public static class KernelPlanner
{
    /// <summary>Shared-memory budget in floats for one expert tile of inputs (16 KiB).</summary>
    public const int TileFloats = 4096;

    public static KernelPlan Run(Graph graph, List<PlannedKernel> kernels, List<FusionDecision> decisions)
    {
        var kernelOf = new Dictionary<string, int>();
        foreach (var k in kernels)
        {
            foreach (var r in k.Nodes.SelectMany(n => n.Results))
            {
                kernelOf[r] = k.Index;
            }
        }

        var types = graph.ValueTypes();
        var crossing = new HashSet<string>(kernels.SelectMany(k => k.Nodes.SelectMany(n => n.Operands)
            .Where(o => kernelOf.TryGetValue(o, out var src) && src != k.Index)));
        crossing.UnionWith(graph.Outputs.Where(kernelOf.ContainsKey));
        var materialized = graph.Nodes.SelectMany(n => n.Results).Where(crossing.Contains)
            .Select(v => new MaterializedValue(v, types[v]!, kernelOf[v])).ToList();
        var weights = graph.Nodes.Where(n => n.Op == Ops.Param)
            .Select(n => new WeightBinding(n.Results[0], n.Attr("name")!, n.Types[0]!, n.IntAttr("fan_in"))).ToList();

        // Every launch extent derives from T (known on the host) and compile-time bounds
        // (S <= T*k), so nothing is read back until the statistics at the end: one sync.
        // A model adds one per MoE sub-layer (each reads its routing statistics back once).
        var hostSyncs = (graph.Outputs.Any(o => kernelOf.ContainsKey(o)) ? 1 : 0) + kernels.Count(k => k.Space == IterationSpace.SubLayer);

        var ffn = kernels.FirstOrDefault(k => k.Space == IterationSpace.ExpertRows);
        var tileRows = 1;
        var hiddenChunk = 1;
        if (ffn != null)
        {
            var rows = types[ffn.Nodes[0].Operands[0]]!;
            var d = rows.Shape[1].Value;
            tileRows = Math.Max(1, Math.Min(16, TileFloats / Math.Max(1, d)));
            var hidden = ffn.Nodes.Where(n => n.Op == Ops.GroupedMatMul).Skip(1).Select(n => types[n.Operands[0]]!.Shape[1].Value).FirstOrDefault();
            hiddenChunk = Math.Max(1, Math.Min(64, hidden));
        }

        return new KernelPlan(graph, kernels, decisions, materialized, weights, hostSyncs, tileRows, hiddenChunk, FusionPolicy.CombineWeightIntoEpilogue(graph));
    }
}
