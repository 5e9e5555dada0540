using System.Linq;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

public class PlanTests
{
    private static KernelPlan PlanFor(MoeLayerSpec spec) => PassPipeline.Run(MoeLowering.Lower(spec));

    [Theory]
    [InlineData(RouterKind.GShard, "gates", "experts")]
    [InlineData(RouterKind.TopK, "top_e", "gates")]
    [InlineData(RouterKind.Switch, "top_w", "top_e")]
    public void Materialized_values_are_exactly_those_crossing_kernels_or_leaving_the_graph(RouterKind router, string first, string second)
    {
        var plan = PlanFor(TestSpecs.Make(router));

        // Program order: for TopK the chosen experts (topk) precede the renormalised gates.
        Assert.Equal(
            new[] { "probs", first, second, "slots", "kept", "dropped", "offsets", "nonfinite", "aux", "rows", "y", "out" },
            plan.Materialized.Select(m => m.Value));
        Assert.Equal(new[] { 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 3, 4 }, plan.Materialized.Select(m => m.Kernel));
        Assert.Equal(1, plan.HostSyncs);
    }

    [Fact]
    public void Materialized_values_carry_their_types()
    {
        var plan = PlanFor(TestSpecs.Make(RouterKind.GShard, dim: 64, experts: 8));

        Assert.Equal(
            new[] { "f32[T,8]", "f32[T,2]", "i32[T,2]", "i32[T,2]", "i32[8]", "i32[]", "i32[9]", "i32[]", "f32[]", "f32[S,64]", "f32[S,64]", "f32[T,64]" },
            plan.Materialized.Select(m => m.Type.ToString()));
    }

    [Theory]
    [InlineData(64, 16)]
    [InlineData(256, 16)]
    [InlineData(512, 8)]
    [InlineData(1000, 4)]
    [InlineData(4096, 1)]
    [InlineData(8192, 1)]
    public void Tile_rows_are_the_shared_memory_budget_over_dim_clamped_to_1_to_16(int dim, int tileRows)
    {
        var plan = PlanFor(TestSpecs.Make(dim: dim));

        Assert.Equal(tileRows, IlgpuSchedule.For(plan).TileRows);
    }

    [Theory]
    [InlineData(ActivationKind.Gelu, 32, 32)]
    [InlineData(ActivationKind.Relu, 128, 64)]
    [InlineData(ActivationKind.SwiGlu, 48, 48)]
    [InlineData(ActivationKind.SwiGlu, 40, 40)]
    [InlineData(ActivationKind.Silu, 1, 1)]
    public void Hidden_chunk_is_min_of_64_and_hidden(ActivationKind activation, int hidden, int chunk)
    {
        var plan = PlanFor(TestSpecs.Make(activation: activation, hidden: hidden));

        Assert.Equal(chunk, IlgpuSchedule.For(plan).HiddenChunk);
    }

    [Theory]
    [InlineData(ActivationKind.Gelu, 128)]
    [InlineData(ActivationKind.SwiGlu, 256)]
    public void Weights_bind_with_names_shapes_and_fan_in(ActivationKind activation, int h1)
    {
        var plan = PlanFor(TestSpecs.Make(activation: activation, dim: 64, experts: 8, hidden: 128));

        Assert.Equal(
            new[]
            {
                new WeightBinding("wg", "gate.weight", TensorType.F32(64, 8), 64),
                new WeightBinding("w1", "experts.w1", TensorType.F32(8, 64, h1), 64),
                new WeightBinding("b1", "experts.b1", TensorType.F32(8, h1), 64),
                new WeightBinding("w2", "experts.w2", TensorType.F32(8, 128, 64), 128),
                new WeightBinding("b2", "experts.b2", TensorType.F32(8, 64), 128),
            },
            plan.Weights);
    }

    [Fact]
    public void Plan_without_expert_kernel_uses_unit_tiles_and_a_graph_of_params_needs_no_sync()
    {
        var rowsOnly = PassPipeline.Run(IrParser.Parse("graph g(%l: f32[T,8]) -> (%p)\n  %p = softmax %l {axis=1}\n"));
        Assert.Equal((1, 1, 1), (IlgpuSchedule.For(rowsOnly).TileRows, IlgpuSchedule.For(rowsOnly).HiddenChunk, rowsOnly.HostSyncs));
        Assert.Equal("", IlgpuSchedule.Describe(rowsOnly) + NativeSchedule.Describe(rowsOnly));

        var paramsOnly = PassPipeline.Run(IrParser.Parse("graph g(%l: f32[T,8]) -> (%w)\n  %w = param {name=w, fan_in=8} : f32[8,8]\n"));
        Assert.Empty(paramsOnly.Kernels);
        Assert.Empty(paramsOnly.Materialized);
        Assert.Equal(0, paramsOnly.HostSyncs);
    }

    [Fact]
    public void Combine_weight_moves_into_the_expert_epilogue_when_combine_is_the_only_reader()
    {
        var plan = PassPipeline.Run(MoeLowering.Lower(TestSpecs.Make()));

        var schedule = NativeSchedule.For(plan);
        Assert.True(schedule.CombineWeightInEpilogue.Fuse);
        Assert.Contains("combine is the only reader of %y", schedule.CombineWeightInEpilogue.Reason);
        Assert.Contains("native schedule: combine's gate weight is applied in k3's second-GEMM epilogue", NativeSchedule.Describe(plan));
        Assert.DoesNotContain("schedule", PlanPrinter.Print(plan));
    }

    [Fact]
    public void Combine_weight_stays_in_combine_when_the_expert_rows_have_another_reader()
    {
        var graph = MoeLowering.Lower(TestSpecs.Make());
        var exposed = new Graph(graph.Name, graph.Inputs, graph.Nodes, graph.Outputs.Concat(new[] { "y" }).ToArray());

        var plan = PassPipeline.Run(exposed);

        var schedule = NativeSchedule.For(plan);
        Assert.False(schedule.CombineWeightInEpilogue.Fuse);
        Assert.Contains("%y has 2 readers", schedule.CombineWeightInEpilogue.Reason);
        Assert.Contains("native schedule: combine's gate weight stays in combine", NativeSchedule.Describe(plan));
    }

    [Fact]
    public void Expert_partition_inserts_the_exchanges_between_the_kernels()
    {
        var plan = PassPipeline.Run(MoeLowering.Lower(TestSpecs.Make(experts: 8)));

        var steps = ExpertPartition.Run(plan, 8, 4);

        // The route runs twice: its partials phase, then, after the all-gather, its slot phase.
        Assert.Equal(new[] { "x0", "k0", "k1", "x1", "k1", "k2", "x2", "x3", "k3", "x4", "k4" }, steps.Select(s => s.Name));
        Assert.Equal(new[] { "all-gather", "gate", "route", "all-gather", "route", "dispatch", "all-to-all", "all-to-all-v", "expert_ffn", "all-to-all-v", "combine" }, steps.Select(s => s.What));
        Assert.StartsWith("partials:", steps[2].Detail);
        Assert.Contains("probability sums [E]", steps[2].Detail);
        Assert.StartsWith("slots:", steps[4].Detail);
        Assert.StartsWith("expert parallel over 4 ranks (experts 0-1 on rank 0, 2-3 on rank 1, 4-5 on rank 2, 6-7 on rank 3)\n", ExpertPartition.Print(plan, steps, 8, 4));
    }

    [Fact]
    public void Expert_partition_marks_the_shared_experts_it_places()
    {
        var spec = TestSpecs.Make(RouterKind.DeepSeek, auxLossWeight: 0f, experts: 5) with { SharedExperts = 1, Ranks = 2 };

        var text = MoeCompiler.Compile(spec).PlanText;

        Assert.Contains("expert parallel over 2 ranks (experts 0-2 on rank 0, 3-5 on rank 1; 5 shared: every token goes through it)\n", text);
    }

    [Fact]
    public void Expert_partition_refuses_expert_choice_with_its_reason()
    {
        var plan = PassPipeline.Run(MoeLowering.Lower(TestSpecs.Make(RouterKind.ExpertChoice, experts: 8, topK: 0, capacityFactor: 2f, auxLossWeight: 0f)));

        var e = Assert.Throws<CompileException>(() => ExpertPartition.Run(plan, 8, 2));

        Assert.Contains("each expert ranks every token of the global batch", e.Message);
    }

    [Fact]
    public void Expert_partition_refuses_an_uneven_split()
    {
        var plan = PassPipeline.Run(MoeLowering.Lower(TestSpecs.Make(experts: 8)));

        var e = Assert.Throws<CompileException>(() => ExpertPartition.Run(plan, 8, 3));

        Assert.Contains("8 experts cannot be split evenly over 3 ranks", e.Message);
    }

    [Fact]
    public void Declared_ranks_are_validated_and_printed()
    {
        var uneven = SpecValidator.Validate(TestSpecs.Make(experts: 8) with { Ranks = 3 });
        var negative = SpecValidator.Validate(TestSpecs.Make(experts: 8) with { Ranks = -1 });

        Assert.Equal((SpecErrorKind.UnevenPartition, "Ranks"), (Assert.Single(uneven).Kind, uneven[0].Property));
        Assert.Equal((SpecErrorKind.NonPositiveSize, "Ranks"), (Assert.Single(negative).Kind, negative[0].Property));
        Assert.Contains("expert parallel over 2 ranks", MoeCompiler.Compile(TestSpecs.Make(experts: 8) with { Ranks = 2 }).Source);
    }
}
