using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Passes;

/// <summary>The whole lowering as one sequence of named stages, with the verifier at the boundaries.</summary>
public static class PassPipeline
{
    public static KernelPlan Run(Graph graph)
    {
        Verifier.Verify(graph, requireTypes: false);
        ShapeInference.Run(graph);
        Verifier.Verify(graph, requireTypes: true);
        var (kernels, decisions) = FusionPass.Run(graph);
        return KernelPlanner.Run(graph, kernels, decisions);
    }
}
