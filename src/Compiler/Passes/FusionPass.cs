using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Groups nodes into kernels over the graph, producer into consumer: a node joins the latest
/// kernel it reads from when the policy allows every edge from that kernel (its other operands
/// are all ready by then), else — if it reads nothing from the most recent kernel — a sideways
/// merge into that one; otherwise it opens a new kernel. A node that joins a kernel records
/// why; one that opens a kernel records every fusion it was refused, with the reason.
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
            var refused = new List<FusionDecision>();
            PlannedKernel? joined = null;

            // Into the producer: the latest kernel the node reads from.
            var from = node.Operands.Where(kernelOf.ContainsKey).Select(o => kernelOf[o]).OrderBy(k => k.Index).LastOrDefault();
            if (from != null)
            {
                var edges = node.Operands.Where(o => kernelOf.TryGetValue(o, out var k) && k == from).Select(o => producers[o]).Distinct().ToList();
                var (fuse, reason) = Vertical(edges, node);
                if (fuse)
                {
                    if (edges.Any(p => FusionPolicy.IsPrologue(p, node)))
                    {
                        from.Space = Ops.Get(node.Op).Space;
                    }

                    decisions.Add(new FusionDecision(true, from.Index, label, reason));
                    joined = from;
                }
                else
                {
                    refused.Add(new FusionDecision(false, from.Index, label, reason));
                }
            }

            // Sideways, into the most recent kernel, when the node reads nothing from it.
            var last = kernels.LastOrDefault();
            if (joined == null && last != null && last != from)
            {
                var (fuse, reason) = FusionPolicy.Horizontal(last.Space, node, last.Nodes.SelectMany(n => n.Operands).ToList());
                if (fuse)
                {
                    decisions.Add(new FusionDecision(true, last.Index, label, reason));
                    joined = last;
                }
                else
                {
                    refused.Add(new FusionDecision(false, last.Index, label, reason));
                }
            }

            if (joined == null)
            {
                decisions.AddRange(refused);
                joined = new PlannedKernel(kernels.Count, Ops.Get(node.Op).Space);
                kernels.Add(joined);
            }

            joined.Nodes.Add(node);
            foreach (var r in node.Results)
            {
                kernelOf[r] = joined;
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
