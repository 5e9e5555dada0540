using System.Collections.Generic;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;

namespace Wudao.Compiler;

/// <summary>The compiled form of one layer: its graph, plan and emitted C#.</summary>
public sealed class CompiledLayer
{
    public CompiledLayer(Graph graph, KernelPlan plan, IReadOnlyList<EmittedKernel> kernels, string planText, string source, string trainPlanText)
    {
        PlanText = planText;
        TrainPlanText = trainPlanText;
        Graph = graph;
        Plan = plan;
        Kernels = kernels;
        Source = source;
    }

    public Graph Graph { get; }

    public KernelPlan Plan { get; }

    public IReadOnlyList<EmittedKernel> Kernels { get; }

    /// <summary>The printed plan with each target's schedule (and the expert partition, when parallel).</summary>
    public string PlanText { get; }

    public string Source { get; }

    /// <summary>The derived backward (saved, recomputed, graph, kernels), or why it cannot be derived yet.</summary>
    public string TrainPlanText { get; }
}

/// <summary>Spec → IR → passes → plan → ILGPU C#. Pure: no Roslyn, no ILGPU, no I/O.</summary>
public static class MoeCompiler
{
    public static CompiledLayer Compile(MoeLayerSpec spec)
    {
        var errors = SpecValidator.Validate(spec);
        if (errors.Count > 0)
        {
            throw new CompileException(errors[0].Message);
        }

        var graph = MoeLowering.Lower(spec);
        var plan = PassPipeline.Run(graph);
        var training = Training(plan, Autodiff.TryRun(graph, out var trainPlanText));
        var kernels = IlgpuKernelEmitter.Emit(plan, KernelReading.ReadAll(plan, training.Saves));
        var planText = PlanPrinter.Print(plan) + IlgpuSchedule.Describe(plan) + NativeSchedule.Describe(plan);
        if (spec.Ranks > 0)
        {
            // Shared experts are placed on ranks like routed ones.
            var experts = spec.Experts + spec.SharedExperts;
            planText += ExpertPartition.Print(plan, ExpertPartition.Run(plan, experts, spec.Ranks), experts, spec.Ranks);
        }

        var source = LauncherEmitter.Emit(Declaration(spec), plan, kernels, IrPrinter.Print(graph), planText, trainPlanText, training);
        return new CompiledLayer(graph, plan, kernels, planText, source, trainPlanText);
    }

    /// <summary>How the layer trains on the native target, or why it cannot yet (its forward builds either way).</summary>
    private static TrainingPlan Training(KernelPlan plan, BackwardGraph? backward)
    {
        if (backward == null)
        {
            return TrainingPlan.Refused("its backward cannot be derived (see Info.TrainPlanText)");
        }

        try
        {
            NativeBackwardEmitter.Check(backward);
        }
        catch (KernelAssemblyException e)
        {
            return TrainingPlan.Refused($"the native backward cannot be emitted yet: {e.Message}");
        }

        return TrainingPlan.Of(plan, backward);
    }

    /// <summary>The declaration as the generated <c>MoeLayerInfo</c> repeats it to the user.</summary>
    private static LayerDeclaration Declaration(MoeLayerSpec s)
    {
        static string F(float v) => CSharpNames.Float(v);
        return new LayerDeclaration(
            s.Namespace,
            s.Accessibility,
            s.ClassName,
            $"{s.Dim}, {s.Experts}, {s.TopK}, {s.Hidden}",
            $"global::Wudao.Activation.{s.Activation}, global::Wudao.RouterKind.{s.Router}, {F(s.CapacityFactor)}, {F(s.AuxLossWeight)}",
            $"{s.Ranks}, {F(s.Jitter)}, {F(s.ZLossWeight)}",
            $"new global::Wudao.RouterOptions({F(s.ImportanceWeight)}, {F(s.LoadWeight)}, {s.SharedExperts}, {F(s.BiasUpdateRate)}, {s.Vocab})");
    }
}
