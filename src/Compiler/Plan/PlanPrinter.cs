using System.Linq;
using System.Text;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Plan;

/// <summary>Prints the fusion plan: each kernel's ops and launch shape, then every fusion refused and why.</summary>
public static class PlanPrinter
{
    public static string Print(KernelPlan plan)
    {
        var sb = new StringBuilder();
        sb.Append($"plan {plan.Graph.Name} ({plan.Kernels.Count} kernels, {plan.HostSyncs} host {(plan.HostSyncs == 1 ? "sync" : "syncs")} per call)\n");
        foreach (var k in plan.Kernels)
        {
            var ops = "[" + string.Join(", ", k.OpNames) + "]";
            sb.Append($"  k{k.Index} {k.Name,-11}{ops,-52} {Launch(k, plan)}\n");
        }

        // A model's values are many and alike: its memory line would say nothing a reader uses.
        if (!plan.Kernels.Any(k => k.Space == IterationSpace.SubLayer))
        {
            var memory = plan.Materialized.Select(m => $"%{m.Value}: {m.Type}");
            sb.Append("  device memory: ").Append(string.Join(", ", memory)).Append('\n');
        }
        foreach (var d in plan.Decisions.Where(d => !d.Fused))
        {
            sb.Append($"  not fused: {d.Op} into k{d.Kernel} — {d.Reason}\n");
        }

        return sb.ToString();
    }

    /// <summary>How the kernel is launched; T is the runtime token count.</summary>
    public static string Launch(PlannedKernel kernel, KernelPlan plan) => kernel.Space switch
    {
        IterationSpace.TokenRows => "grid: T threads",
        IterationSpace.TokenScan => "grid: 1 group",
        IterationSpace.Choices => "grid: T*k*d threads",
        IterationSpace.ExpertRows => "grid: expert tiles",
        IterationSpace.TokenGather => "grid: T*d threads",
        IterationSpace.DenseRows => "grid: row tiles x column tiles",
        IterationSpace.Sequences => "grid: sequences x heads x query tiles",
        IterationSpace.SubLayer => "the MoE layer's own plan",
        IterationSpace.VocabRow => "per generated token: one row of logits, options at run time",
        IterationSpace.WeightTiles => "grid: weight tiles",
        _ => "none",
    };
}
