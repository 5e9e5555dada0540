using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Plan;

/// <summary>One fused kernel: the ops it holds, in program order, and the space its threads cover.</summary>
public sealed class PlannedKernel
{
    public PlannedKernel(int index, IterationSpace space)
    {
        Index = index;
        Space = space;
    }

    public int Index { get; }

    /// <summary>The kernel's threads; a prologue fused into a consumer takes the consumer's space.</summary>
    public IterationSpace Space { get; internal set; }

    public List<Node> Nodes { get; } = new();

    /// <summary>
    /// A short name for the kernel's role, from its iteration space; a backward kernel's is its
    /// forward role's with <c>d_</c> (weight-gradient tiles exist only in backward: <c>wgrad</c>).
    /// </summary>
    public string Name => Space != IterationSpace.WeightTiles && Nodes.Any(n => Ops.IsBackward(n.Op)) ? "d_" + Role : Role;

    private string Role => Space switch
    {
        IterationSpace.TokenRows when Nodes.Count > 0 && Nodes[0].Op == Ops.CrossEntropyGrad => "loss",
        IterationSpace.TokenRows when Nodes.Count > 0 && Nodes[0].Op is Ops.RmsNormGrad or Ops.LayerNormGrad or Ops.QkNormGrad => "norm",
        IterationSpace.TokenRows when Nodes.Count > 0 && Nodes[0].Op == Ops.Embed => "embed",
        IterationSpace.TokenRows when Nodes.Count > 0 && Nodes[0].Op is Ops.RmsNorm or Ops.LayerNorm or Ops.AddRmsNorm or Ops.AddLayerNorm or Ops.QkNorm => "norm",
        IterationSpace.TokenRows => "gate",
        IterationSpace.DenseRows when Nodes.Count > 0 && Nodes[0].Op == Ops.DenseFfn => "ffn",
        IterationSpace.DenseRows => "gemm",
        IterationSpace.Sequences => "attention",
        IterationSpace.SubLayer => "moe",
        IterationSpace.TokenScan => "route",
        IterationSpace.Choices => "dispatch",
        IterationSpace.ExpertRows => "expert_ffn",
        IterationSpace.TokenGather => "combine",
        IterationSpace.VocabRow => "sample",
        IterationSpace.WeightTiles => "wgrad",
        _ => "kernel",
    };

    public IEnumerable<string> OpNames => Nodes.Select(n => n.Op);

    /// <summary>
    /// The results given buffers: what the graph outputs, what other kernels read, and what nothing
    /// reads (an op still writes it somewhere). A result only this kernel's later ops read stays
    /// in registers or scratch (a prologue's result, a gate's router logits).
    /// </summary>
    public IEnumerable<string> Buffered(KernelPlan plan) =>
        Nodes.SelectMany(n => n.Results).Where(r =>
            plan.Graph.Outputs.Contains(r)
            || plan.Graph.Nodes.Any(n => !Nodes.Contains(n) && n.Operands.Contains(r))
            || !Nodes.Any(n => n.Operands.Contains(r)));
}
