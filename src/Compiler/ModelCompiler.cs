using Wudao.Compiler.Codegen;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;

namespace Wudao.Compiler;

/// <summary>The compiled form of a model: its graph, plan, the model's source and its MoE layer's.</summary>
public sealed class CompiledModel
{
    public CompiledModel(Graph graph, KernelPlan plan, string planText, string source, CompiledLayer moe, string trainPlanText)
    {
        TrainPlanText = trainPlanText;
        Graph = graph;
        Plan = plan;
        PlanText = planText;
        Source = source;
        Moe = moe;
    }

    public Graph Graph { get; }

    public KernelPlan Plan { get; }

    /// <summary>The printed plan with its schedule, then the MoE layer's (as the generated <c>Info.PlanText</c>).</summary>
    public string PlanText { get; }

    public string Source { get; }

    public CompiledLayer Moe { get; }

    /// <summary>The derived backward of the training graph (logits → cross-entropy), or why there is none yet.</summary>
    public string TrainPlanText { get; }
}

/// <summary>Model spec → IR → passes → plan → C#; the MoE feed-forward compiles as its own layer.</summary>
public static class ModelCompiler
{
    public static CompiledModel Compile(ModelSpec spec)
    {
        var errors = ModelSpecValidator.Validate(spec);
        if (errors.Count > 0)
        {
            throw new CompileException(errors[0].Message);
        }

        var moe = MoeCompiler.Compile(spec.Moe);
        var graph = ModelLowering.Lower(spec);
        var plan = PassPipeline.Run(graph);

        // The model's plan and its GEMM tiles, then the MoE layer's (each MoE block runs that plan).
        var planText = PlanPrinter.Print(plan) + IlgpuSchedule.Describe(plan) + "\nMoE blocks run " + spec.Moe.ClassName + ":\n" + moe.PlanText;
        var trainPlanText = Autodiff.Describe(ModelLowering.Training(graph));
        var source = ModelEmitter.Emit(Declaration(spec), plan, IrPrinter.Print(graph), planText, trainPlanText);
        return new CompiledModel(graph, plan, planText, source, moe, trainPlanText);
    }

    /// <summary>The declaration's C# names, all the model emitter reads of the spec.</summary>
    public static ModelDeclaration Declaration(ModelSpec spec) =>
        new(spec.Namespace, spec.Accessibility, CSharpNames.Identifier(spec.ClassName), CSharpNames.Identifier(spec.Moe.ClassName));
}
