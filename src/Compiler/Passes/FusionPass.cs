using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Groups nodes into kernels in program order. A node joins the most recent kernel when the
/// policy allows every edge from that kernel (or, if it reads nothing from it, a sideways merge);
/// otherwise it opens a new kernel. Every choice is recorded with its reason.
/// </summary>
public static class FusionPass
{
    public static (List<PlannedKernel> Kernels, List<FusionDecision> Decisions) Run(Graph graph)
    {
        var kernels = new List<PlannedKernel>();
        var decisions = new List<FusionDecision>();
        var kernelOf = new Dictionary<string, PlannedKernel>();
        var producers = graph.Producers();
        foreach (var node in graph.Nodes.Where(n => n.Op != Ops.Param))
        {
            var label = $"%{node.Name} = {node.Op}";
            var last = kernels.LastOrDefault();
            var joined = false;
            if (last != null)
            {
                var inLast = node.Operands.Where(o => kernelOf.TryGetValue(o, out var k) && k == last).Select(o => producers[o]).Distinct().ToList();
                var (fuse, reason) = inLast.Count == 0
                    ? FusionPolicy.Horizontal(last.Space, node, last.Nodes.SelectMany(n => n.Operands).ToList())
                    : Vertical(inLast, node);
                decisions.Add(new FusionDecision(fuse, last.Index, label, reason));
                if (fuse)
                {
                    if (inLast.Any(p => FusionPolicy.IsPrologue(p, node)))
                    {
                        last.Space = Ops.Get(node.Op).Space;
                    }

                    last.Nodes.Add(node);
                    joined = true;
                }
            }

            if (!joined)
            {
                var kernel = new PlannedKernel(kernels.Count, Ops.Get(node.Op).Space);
                kernel.Nodes.Add(node);
                kernels.Add(kernel);
            }

            foreach (var r in node.Results)
            {
                kernelOf[r] = kernels[kernels.Count - 1];
            }
        }

        return (kernels, decisions);
    }

    /// <summary>Every edge from the kernel must allow fusion; the first refusal wins, else the last edge's reason.</summary>
    private static (bool Fuse, string Reason) Vertical(List<Node> producers, Node consumer)
    {
        (bool Fuse, string Reason) decision = default;
        foreach (var producer in producers)
        {
            decision = FusionPolicy.Vertical(producer, consumer);
            if (!decision.Fuse)
            {
                break;
            }
        }

        return decision;
    }
}
