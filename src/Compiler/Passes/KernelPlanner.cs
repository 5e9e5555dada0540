using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Turns fused kernels into a plan: which values must live in device memory, which weights bind,
/// and how many host synchronisations a call needs.
/// </summary>
public static class KernelPlanner
{
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

        return new KernelPlan(graph, kernels, decisions, materialized, weights, hostSyncs);
    }
}
