using System.Collections.Generic;
using System.Linq;
using System.Text;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Plan;

/// <summary>
/// Draws a plan in Graphviz's DOT language: one cluster per kernel (<c>k0 gate</c>, …) holding its
/// ops, graph inputs, weights and outputs as distinct shapes outside the clusters, and an edge
/// per value read. A value one kernel writes to device memory and another reads back is a bold,
/// named edge; a value that stays inside its kernel is a thin one.
/// </summary>
public static class PlanDot
{
    public static string Print(KernelPlan plan)
    {
        var graph = plan.Graph;
        var sb = new StringBuilder();
        sb.Append("digraph ").Append(Quote(graph.Name)).Append(" {\n");
        sb.Append("  rankdir=TB;\n");
        sb.Append("  node [fontname=\"Helvetica\", fontsize=10];\n");
        sb.Append("  edge [fontname=\"Helvetica\", fontsize=9];\n");

        // Where each value comes from: an input, a weight (a param node) or an op's node.
        var source = new Dictionary<string, string>();
        foreach (var input in graph.Inputs)
        {
            var id = "in_" + input.Key;
            source[input.Key] = id;
            sb.Append("  ").Append(Quote(id)).Append(" [shape=invhouse, style=filled, fillcolor=\"#dbeafe\", label=")
              .Append(Quote($"%{input.Key}\n{input.Value}")).Append("];\n");
        }

        var ids = new Dictionary<Node, string>();
        for (var i = 0; i < graph.Nodes.Count; i++)
        {
            var node = graph.Nodes[i];
            ids[node] = "n" + i;
            foreach (var r in node.Results)
            {
                source[r] = ids[node];
            }
        }

        var inKernel = new HashSet<Node>(plan.Kernels.SelectMany(k => k.Nodes));
        foreach (var node in graph.Nodes.Where(n => !inKernel.Contains(n)))
        {
            sb.Append("  ").Append(NodeLine(node, ids[node])).Append('\n');
        }

        foreach (var kernel in plan.Kernels)
        {
            sb.Append("  subgraph ").Append(Quote("cluster_k" + kernel.Index)).Append(" {\n");
            sb.Append("    label=").Append(Quote($"k{kernel.Index} {kernel.Name}")).Append(";\n");
            sb.Append("    style=\"rounded,filled\"; fillcolor=\"#f5f5f5\"; color=\"#737373\";\n");
            foreach (var node in kernel.Nodes)
            {
                sb.Append("    ").Append(NodeLine(node, ids[node])).Append('\n');
            }

            sb.Append("  }\n");
        }

        foreach (var output in graph.Outputs)
        {
            sb.Append("  ").Append(Quote("out_" + output)).Append(" [shape=house, style=filled, fillcolor=\"#dcfce7\", label=")
              .Append(Quote("%" + output)).Append("];\n");
        }

        // An edge between two kernels is a value read back from device memory: bold, and named.
        var kernelOf = plan.Kernels.SelectMany(k => k.Nodes.Select(n => (n, k.Index))).ToDictionary(x => ids[x.n], x => x.Index);
        foreach (var node in graph.Nodes)
        {
            foreach (var operand in node.Operands.Distinct())
            {
                if (source.TryGetValue(operand, out var from))
                {
                    var crosses = kernelOf.TryGetValue(from, out var a) && kernelOf.TryGetValue(ids[node], out var b) && a != b;
                    sb.Append("  ").Append(crosses
                        ? $"{Quote(from)} -> {Quote(ids[node])} [penwidth=2, label={Quote("%" + operand)}];"
                        : $"{Quote(from)} -> {Quote(ids[node])};").Append('\n');
                }
            }
        }

        foreach (var output in graph.Outputs.Where(source.ContainsKey))
        {
            sb.Append("  ").Append($"{Quote(source[output])} -> {Quote("out_" + output)} [penwidth=2];").Append('\n');
        }

        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>A weight is a cylinder named as in weight files; an op is a box with its results and their types.</summary>
    private static string NodeLine(Node node, string id)
    {
        if (node.Op == Ops.Param)
        {
            var type = node.Types.Count > 0 && node.Types[0] != null ? node.Types[0]!.ToString() : "";
            return $"{Quote(id)} [shape=cylinder, style=filled, fillcolor=\"#fef3c7\", label={Quote($"{node.Attr("name") ?? node.Name}\n{type}")}];";
        }

        var results = string.Join(", ", node.Results.Select(r => "%" + r));
        var types = node.Types.All(t => t != null) ? "\n" + string.Join(", ", node.Types.Select(t => t!.ToString())) : "";
        return $"{Quote(id)} [shape=box, style=\"rounded,filled\", fillcolor=white, label={Quote($"{results} = {node.Op}{types}")}];";
    }

    /// <summary>A DOT quoted string: backslashes and quotes escaped, line breaks as DOT's <c>\n</c> (centred line).</summary>
    public static string Quote(string text) =>
        "\"" + text.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\r", "").Replace("\n", "\\n") + "\"";
}
