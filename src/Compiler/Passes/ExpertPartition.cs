using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>One step of the expert-parallel schedule: a planned kernel or an exchange between ranks.</summary>
/// <param name="Name">k&lt;i&gt; for a kernel, x&lt;i&gt; for an exchange.</param>
/// <param name="What">The kernel's role or the collective.</param>
/// <param name="Detail">What it moves or runs on each rank.</param>
public sealed record ParallelStep(string Name, string What, string Detail);

/// <summary>
/// Assigns experts to ranks (rank p owns experts p·E/N … (p+1)·E/N − 1; shared experts are placed
/// like routed ones, on the last ranks) and inserts the exchanges into the kernel plan: the route
/// kernel runs in its two phases around an all-gather of every rank's partials, so its slot phase
/// places every choice at its global position and capacity drops exactly what one rank would,
/// with the same counts and losses; dispatch's
/// expert-contiguous output is already ordered by destination rank; rows travel to and from
/// expert-contiguous receive segments, so no kernel permutes them.
/// </summary>
public static class ExpertPartition
{
    public static IReadOnlyList<ParallelStep> Run(KernelPlan plan, int experts, int ranks)
    {
        if (ranks < 1 || experts % ranks != 0)
        {
            throw new CompileException($"{experts} experts cannot be split evenly over {ranks} ranks");
        }

        if (plan.Graph.Nodes.Any(n => n.Op == Ops.ExpertChoice))
        {
            throw new CompileException("expert choice does not run expert-parallel: each expert ranks every token of the global batch by score, which needs every rank's router probabilities, not a count per rank");
        }

        var steps = new List<ParallelStep>();
        var exchange = 0;
        ParallelStep X(string what, string detail) => new($"x{exchange++}", what, detail);
        steps.Add(X("all-gather", "token counts: the global batch's capacity and each rank's first token"));
        foreach (var k in plan.Kernels)
        {
            switch (k.Space)
            {
                case IterationSpace.TokenScan:
                    var sums = new[]
                    {
                        (Ops.NonFinite, "non-finite tokens"), (Ops.AuxLoss, "probability sums [E]"), (Ops.ZLoss, "the sum of squared logsumexps"),
                        (Ops.NoisyLoss, "importance and load sums [E]"),
                    }.Where(l => k.Nodes.Any(n => n.Op == l.Item1)).Select(l => ", " + l.Item2);
                    steps.Add(new ParallelStep($"k{k.Index}", k.Name, $"partials: tokens, choices per column and expert [k,E]{string.Concat(sums)}"));
                    steps.Add(X("all-gather", "every rank's route partials (ints; float sums as bits, added in rank order)"));
                    steps.Add(new ParallelStep($"k{k.Index}", k.Name, "slots: choice, then rank, then token order; capacity, counts and losses of the global batch"));
                    break;
                case IterationSpace.ExpertRows:
                    steps.Add(X("all-to-all", $"rows per local expert ({experts / ranks} ints per peer)"));
                    steps.Add(X("all-to-all-v", "rows into expert-contiguous receive segments"));
                    steps.Add(new ParallelStep($"k{k.Index}", k.Name, $"the {experts / ranks} local experts' rows"));
                    steps.Add(X("all-to-all-v", "rows back into the send layout"));
                    break;
                case IterationSpace.Choices:
                    steps.Add(new ParallelStep($"k{k.Index}", k.Name, "send buffer, ordered by destination rank, then expert"));
                    break;
                case IterationSpace.TokenGather:
                    steps.Add(new ParallelStep($"k{k.Index}", k.Name, "reads the returned rows in place"));
                    break;
                default:
                    steps.Add(new ParallelStep($"k{k.Index}", k.Name, "local tokens"));
                    break;
            }
        }

        return steps;
    }

    /// <summary>The schedule as text, for the plan a user prints; the plan's shared experts (append_shared) are the last ones.</summary>
    public static string Print(KernelPlan plan, IReadOnlyList<ParallelStep> steps, int experts, int ranks)
    {
        var shared = plan.Graph.Nodes.FirstOrDefault(n => n.Op == Ops.AppendShared)?.IntAttr("shared") ?? 0;
        var per = experts / ranks;
        string Range(int first, int last) => first == last ? $"{first}" : $"{first}-{last}";
        var owners = string.Join(", ", Enumerable.Range(0, ranks).Select(r => $"{Range(r * per, ((r + 1) * per) - 1)} on rank {r}"));
        var sharedText = shared > 0 ? $"; {Range(experts - shared, experts - 1)} shared: every token goes through {(shared == 1 ? "it" : "them")}" : "";
        return $"expert parallel over {ranks} ranks (experts {owners}{sharedText})\n"
            + string.Concat(steps.Select(s => $"  {s.Name} {s.What,-13} {s.Detail}\n"));
    }
}
