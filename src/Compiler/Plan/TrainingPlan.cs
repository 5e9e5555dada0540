using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Passes;

namespace Wudao.Compiler.Plan;

/// <summary>
/// How a layer trains: its derived backward, and the values the backward reads that the forward
/// plan keeps inside a kernel (a gate's top-k before renormalisation, the experts' hidden rows
/// before the activation), which a training forward writes out. <see cref="Refusal"/> says why a
/// layer cannot train yet; its forward is unaffected.
/// </summary>
public sealed record TrainingPlan(BackwardGraph? Backward, IReadOnlyList<string> Saves, string? Refusal)
{
    public static TrainingPlan Refused(string reason) => new(null, new string[0], reason);

    /// <summary>The backward of <paramref name="forward"/>'s graph and what its training forward must save.</summary>
    public static TrainingPlan Of(KernelPlan forward, BackwardGraph backward)
    {
        var inputs = new HashSet<string>(forward.Graph.Inputs.Select(i => i.Key));
        var saves = backward.Saved.Where(v => !inputs.Contains(v) && !forward.Materialized.Any(m => m.Value == v)).ToList();
        foreach (var v in saves)
        {
            var kernel = forward.Kernels.First(k => k.Nodes.Any(n => n.Results.Contains(v)));
            var feedsActivation = forward.Graph.Nodes.Any(n => Activations.IsActivation(n.Op) && n.Operands.Contains(v));
            if (kernel.Space != IterationSpace.TokenRows && !(kernel.Space == IterationSpace.ExpertRows && feedsActivation))
            {
                return Refused($"the backward reads %{v}, which k{kernel.Index} {kernel.Name} keeps inside the kernel and cannot save");
            }
        }

        return new TrainingPlan(backward, saves, null);
    }
}
