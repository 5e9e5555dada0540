using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

public class FusionTests
{
    private static KernelPlan PlanFor(RouterKind router, ActivationKind activation = ActivationKind.Gelu) =>
        PassPipeline.Run(MoeLowering.Lower(TestSpecs.Make(router, activation)));

    [Theory]
    [InlineData(RouterKind.GShard, ActivationKind.Gelu, new[] { "matmul", "softmax", "topk", "renorm", "second_drop" })]
    [InlineData(RouterKind.Switch, ActivationKind.Relu, new[] { "matmul", "softmax", "topk" })]
    [InlineData(RouterKind.TopK, ActivationKind.Silu, new[] { "matmul", "softmax", "topk", "renorm" })]
    [InlineData(RouterKind.TopK, ActivationKind.SwiGlu, new[] { "matmul", "softmax", "topk", "renorm" })]
    public void Lowered_layer_fuses_into_five_kernels(RouterKind router, ActivationKind activation, string[] gateOps)
    {
        var plan = PlanFor(router, activation);
        var act = TestSpecs.ActivationOp(activation);

        Assert.Equal(
            new[]
            {
                gateOps,
                new[] { "capacity", "scan", "nonfinite", "aux_loss" },
                new[] { "dispatch" },
                new[] { "grouped_matmul", "bias", act, "grouped_matmul", "bias" },
                new[] { "combine" },
            },
            TestSpecs.KernelOps(plan.Kernels));
        Assert.Equal(new[] { "gate", "route", "dispatch", "expert_ffn", "combine" }, plan.Kernels.Select(k => k.Name));
        Assert.Equal(Enumerable.Range(0, 5), plan.Kernels.Select(k => k.Index));
    }

    [Theory]
    [InlineData(RouterKind.GShard)]
    [InlineData(RouterKind.Switch)]
    [InlineData(RouterKind.TopK)]
    public void Four_fusions_are_refused_each_with_its_reason(RouterKind router)
    {
        var plan = PlanFor(router);

        var refused = plan.Decisions.Where(d => !d.Fused).ToList();

        Assert.Collection(
            refused,
            d => Assert.Equal((0, "%slots = capacity", true), (d.Kernel, d.Op, d.Reason.Contains("grid-wide dependency"))),
            d => Assert.Equal((1, "%rows = dispatch", true), (d.Kernel, d.Op, d.Reason.Contains("every expert's final offset"))),
            d => Assert.Equal((2, "%h = grouped_matmul", true), (d.Kernel, d.Op, d.Reason.Contains("expert-contiguous rows that dispatch writes"))),
            d => Assert.Equal((3, "%out = combine", true), (d.Kernel, d.Op, d.Reason.Contains("atomics"))));
    }

    [Fact]
    public void Every_non_param_node_after_the_first_has_one_decision()
    {
        var plan = PlanFor(RouterKind.GShard);
        var computed = plan.Graph.Nodes.Where(n => n.Op != Ops.Param).ToList();

        Assert.Equal(computed.Skip(1).Select(n => $"%{n.Name} = {n.Op}"), plan.Decisions.Select(d => d.Op));
        Assert.Equal(11, plan.Decisions.Count(d => d.Fused));
    }

    [Fact]
    public void Aux_loss_joins_the_route_kernel_sideways()
    {
        var plan = PlanFor(RouterKind.GShard);

        var aux = Assert.Single(plan.Decisions, d => d.Op == "%aux = aux_loss");

        Assert.True(aux.Fused);
        Assert.Equal(1, aux.Kernel);
        Assert.Contains("reduces over the same tokens as the ordered pass", aux.Reason);
    }

    [Fact]
    public void Expert_ops_fuse_as_epilogues_and_fused_mlp()
    {
        var plan = PlanFor(RouterKind.GShard);

        Assert.Contains("epilogue", Assert.Single(plan.Decisions, d => d.Op == "%hb = bias").Reason);
        Assert.Contains("epilogue", Assert.Single(plan.Decisions, d => d.Op == "%a = gelu").Reason);
        Assert.Contains("fused MLP", Assert.Single(plan.Decisions, d => d.Op == "%y0 = grouped_matmul").Reason);
        Assert.Contains("row-local", Assert.Single(plan.Decisions, d => d.Op == "%probs = softmax").Reason);
    }

    [Fact]
    public void Independent_row_wise_op_is_not_merged_sideways()
    {
        var graph = IrParser.Parse(
            "graph g(%x: f32[T,64], %z: f32[T,8]) -> (%p, %q)\n" +
            "  %w = param {name=w, fan_in=64} : f32[64,8]\n" +
            "  %l = matmul %x, %w\n" +
            "  %p = softmax %l {axis=1}\n" +
            "  %q = softmax %z {axis=1}\n");

        var plan = PassPipeline.Run(graph);

        Assert.Equal(new[] { new[] { "matmul", "softmax" }, new[] { "softmax" } }, TestSpecs.KernelOps(plan.Kernels));
        Assert.All(plan.Kernels, k => Assert.Equal(IterationSpace.TokenRows, k.Space));
        var q = plan.Decisions[^1];
        Assert.Equal(new FusionDecision(false, 0, "%q = softmax", "shares no data with the kernel and TokenRows kernels are not merged sideways"), q);
        Assert.Equal(new[] { "p", "q" }, plan.Materialized.Select(m => m.Value));
        Assert.Equal(1, plan.HostSyncs);
    }

    [Fact]
    public void A_consumer_fuses_into_its_producer_even_when_another_kernel_came_between()
    {
        // %r reads only k0's %l; k1 came after. Producer into consumer, not into the latest kernel.
        var graph = IrParser.Parse(
            "graph g(%x: f32[T,64], %z: f32[T,8]) -> (%p, %q, %r)\n" +
            "  %w = param {name=w, fan_in=64} : f32[64,8]\n" +
            "  %l = matmul %x, %w\n" +
            "  %p = softmax %l {axis=1}\n" +
            "  %q = softmax %z {axis=1}\n" +
            "  %r = softmax %l {axis=1}\n");

        var plan = PassPipeline.Run(graph);

        Assert.Equal(new[] { new[] { "matmul", "softmax", "softmax" }, new[] { "softmax" } }, TestSpecs.KernelOps(plan.Kernels));
        var r = Assert.Single(plan.Decisions, d => d.Op == "%r = softmax");
        Assert.Equal(new FusionDecision(true, 0, "%r = softmax", "row-local: each token's row stays in one thread"), r);
    }

    [Fact]
    public void A_node_that_opens_a_kernel_states_each_fusion_it_was_refused()
    {
        var graph = IrParser.Parse(
            "graph g(%x: f32[T,64], %z: f32[T,8]) -> (%q, %slots, %kept, %dropped)\n" +
            "  %w = param {name=w, fan_in=64} : f32[64,8]\n" +
            "  %l = matmul %x, %w\n" +
            "  %p = softmax %l {axis=1}\n" +
            "  %tw, %te = topk %p {k=2}\n" +
            "  %q = softmax %z {axis=1}\n" +
            "  %slots, %kept, %dropped = capacity %te {experts=8, factor=1}\n");

        var plan = PassPipeline.Run(graph);

        Assert.Equal(3, plan.Kernels.Count);
        var refused = plan.Decisions.Where(d => d.Op == "%slots = capacity").ToList();
        Assert.Equal(new[] { (false, 0), (false, 1) }, refused.Select(d => (d.Fused, d.Kernel)));
        Assert.StartsWith("capacity slots tokens in order", refused[0].Reason);
        Assert.Equal("iteration spaces differ (TokenRows -> TokenScan)", refused[1].Reason);
    }

    [Fact]
    public void Row_op_after_a_scatter_is_refused_for_differing_spaces()
    {
        var graph = IrParser.Parse(
            "graph g(%x: f32[T,64], %e: i32[T,2], %s: i32[T,2], %o: i32[9]) -> (%l)\n" +
            "  %w = param {name=w, fan_in=64} : f32[64,8]\n" +
            "  %rows = dispatch %x, %e, %s, %o\n" +
            "  %l = matmul %rows, %w\n");

        var plan = PassPipeline.Run(graph);

        Assert.Equal(new[] { "dispatch", "gate" }, plan.Kernels.Select(k => k.Name));
        var d = Assert.Single(plan.Decisions);
        Assert.False(d.Fused);
        Assert.Equal("iteration spaces differ (Choices -> TokenRows)", d.Reason);
        Assert.Equal(new[] { "rows", "l" }, plan.Materialized.Select(m => m.Value));
    }

    [Fact]
    public void Policy_answers_match_the_plan()
    {
        var rowOp = new Node(Ops.Softmax, new[] { "p" }, new[] { "l" });
        var scanOp = new Node(Ops.Scan, new[] { "o" }, new[] { "k" });

        Assert.True(FusionPolicy.Horizontal(IterationSpace.TokenScan, scanOp, System.Array.Empty<string>()).Fuse);
        Assert.False(FusionPolicy.Horizontal(IterationSpace.TokenRows, rowOp, System.Array.Empty<string>()).Fuse);
        Assert.Equal("iteration spaces differ (TokenScan -> TokenRows)", FusionPolicy.Horizontal(IterationSpace.TokenScan, rowOp, System.Array.Empty<string>()).Reason);
        Assert.False(FusionPolicy.Vertical(rowOp, scanOp).Fuse);
        Assert.True(FusionPolicy.Vertical(scanOp, scanOp).Fuse);
    }
}
