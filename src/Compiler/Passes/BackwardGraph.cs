using System.Collections.Generic;
using System.Linq;
using System.Text;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>
/// A forward graph's backward: the graph itself, and the decisions a user reads in the train plan
/// (what is saved from the forward, what is recomputed and why, which weights get no gradient).
/// </summary>
public sealed class BackwardGraph
{
    public BackwardGraph(Graph graph, KernelPlan plan, IReadOnlyList<string> seeds, IReadOnlyList<string> saved, IReadOnlyList<(Node Node, string Reason)> recomputed, IReadOnlyDictionary<string, string> gradients, IReadOnlyList<string> noGradient, Graph forward)
    {
        Graph = graph;
        Plan = plan;
        Seeds = seeds;
        Saved = saved;
        Recomputed = recomputed;
        Gradients = gradients;
        NoGradient = noGradient;
        Forward = forward;
    }

    /// <summary>Inputs: the seeds, then the saved forward values. Outputs: the gradients.</summary>
    public Graph Graph { get; }

    /// <summary>The backward's kernels, fused and planned by the forward's passes.</summary>
    public KernelPlan Plan { get; }

    /// <summary>The cotangents of the forward's float outputs, one input each (<c>d_out</c>, <c>d_aux</c>).</summary>
    public IReadOnlyList<string> Seeds { get; }

    /// <summary>Forward values (inputs, or results the forward keeps for backward) the backward reads.</summary>
    public IReadOnlyList<string> Saved { get; }

    /// <summary>Forward nodes the backward runs again rather than saving their results.</summary>
    public IReadOnlyList<(Node Node, string Reason)> Recomputed { get; }

    /// <summary>Forward input or weight value → the backward value holding its gradient.</summary>
    public IReadOnlyDictionary<string, string> Gradients { get; }

    /// <summary>Weights no gradient reaches (they only choose, or nothing reads them on a float path).</summary>
    public IReadOnlyList<string> NoGradient { get; }

    public Graph Forward { get; }

    /// <summary>The train plan: the decisions, the backward graph in IR text, then its kernels.</summary>
    public override string ToString()
    {
        var types = Forward.ValueTypes();
        var weights = Forward.Nodes.Where(n => n.Op == Ops.Param).ToDictionary(n => n.Results[0], n => n.Attr("name"));
        string Named(string v) => weights.TryGetValue(v, out var name) ? $"%{v} ({name})" : "%" + v;
        var sb = new StringBuilder();
        sb.Append("backward ").Append(Forward.Name).Append(": seeds ").Append(string.Join(", ", Seeds.Select(s => $"%{s}: {Graph.Inputs.First(i => i.Key == s).Value}"))).Append('\n');
        var inputs = new HashSet<string>(Forward.Inputs.Select(i => i.Key));
        sb.Append("  saved for backward: ").Append(Saved.Count == 0 ? "nothing" : string.Join(", ", Saved.Select(v => $"%{v}: {types[v]}{(inputs.Contains(v) ? " (input)" : "")}"))).Append('\n');
        sb.Append("  memory the forward keeps for it: ").Append(BufferMemory.Symbolic(Saved.Where(v => !inputs.Contains(v)).Select(v => types[v]!))).Append('\n');
        foreach (var (node, reason) in Recomputed)
        {
            sb.Append("  recomputed: ").Append(IrPrinter.PrintNode(node)).Append(" — ").Append(reason).Append('\n');
        }

        sb.Append("  gradients: ").Append(string.Join(", ", Gradients.Select(g => $"{Named(g.Key)} -> %{g.Value}"))).Append('\n');
        foreach (var v in NoGradient)
        {
            sb.Append("  no gradient: ").Append(Named(v)).Append(" — no float path from it reaches a seed (it only chooses, or is not read)\n");
        }

        return sb.Append(IrPrinter.Print(Graph)).Append(PlanPrinter.Print(Plan)).ToString();
    }
}
