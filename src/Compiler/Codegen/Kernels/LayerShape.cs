using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>A MoE layer's compile-time sizes, read from its plan's types and attributes.</summary>
/// <param name="D">Row width.</param>
/// <param name="E">Experts the feed-forward kernels run (routed, then shared).</param>
/// <param name="K">Expert slots per token (every expert under expert choice).</param>
/// <param name="ER">Routed experts: the router's width.</param>
/// <param name="KR">Routed choices per token.</param>
/// <param name="H">Hidden width after the activation.</param>
/// <param name="H1">Hidden width of the up GEMM (twice H for a gated activation).</param>
public sealed record LayerShape(int D, int E, int K, int ER, int KR, int H, int H1)
{
    public static LayerShape From(KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        var dispatch = plan.Graph.Nodes.First(n => n.Op == Ops.Dispatch);
        var mlp = FusedMlp.From(plan.Kernels.First(k => k.Space == IterationSpace.ExpertRows), plan);
        var shared = plan.Graph.Nodes.FirstOrDefault(n => n.Op == Ops.AppendShared)?.IntAttr("shared") ?? 0;
        var e = types[mlp.Up.Operands[1]]!.Shape[0].Value;
        var k = types[dispatch.Operands[1]]!.Shape[1].Value;
        return new LayerShape(mlp.Dim, e, k, e - shared, k - shared, mlp.Hidden, mlp.HiddenIn);
    }
}
