using System;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>Reverse-mode autodiff on the IR: the backward graphs of MoE layers, and the pass's own rules.</summary>
public class AutodiffTests
{
    private static BackwardGraph Backward(MoeLayerSpec spec, RecomputePolicy? policy = null)
    {
        var forward = MoeLowering.Lower(spec);
        ShapeInference.Run(forward);
        return Autodiff.Run(forward, policy);
    }

    private static BackwardGraph Backward(string ir)
    {
        var forward = IrParser.Parse(ir);
        ShapeInference.Run(forward);
        return Autodiff.Run(forward);
    }

    [Fact]
    public void A_gshard_layer_s_backward_reverses_every_stage()
    {
        var b = Backward(TestSpecs.Make(RouterKind.GShard));

        Assert.Equal(new[] { "d_out", "d_aux" }, b.Seeds);
        Assert.Equal(new[] { "x", "probs", "top_e", "top_w", "gates", "experts", "slots", "offsets", "rows", "hb", "y" }, b.Saved);

        // probs 8 + five [T,2] values of 2 → 18·4 bytes a token; rows, hb, y: (64 + 128 + 64)·4 a row; offsets 9·4.
        Assert.Contains("  memory the forward keeps for it: 1,024·S + 72·T + 36 bytes\n", b.ToString(), StringComparison.Ordinal);
        Assert.Equal(new[]
        {
            "graph L_backward(%d_out: f32[T,64], %d_aux: f32[], %x: f32[T,64], %probs: f32[T,8], %top_e: i32[T,2], %top_w: f32[T,2], %gates: f32[T,2], %experts: i32[T,2], %slots: i32[T,2], %offsets: i32[9], %rows: f32[S,64], %hb: f32[S,128], %y: f32[S,64]) -> (%d_x_sum2, %d_wg, %d_w1, %d_b1, %d_w2, %d_b2)",
            "  %wg = param {name=gate.weight, fan_in=64} : f32[64,8]",
            "  %w1 = param {name=experts.w1, fan_in=64} : f32[8,64,128]",
            "  %w2 = param {name=experts.w2, fan_in=128} : f32[8,128,64]",
            "  %d_y = combine_grad_rows %d_out, %experts, %gates, %slots, %offsets : f32[S,64]",
            "  %d_gates = combine_grad_gates %d_out, %y, %experts, %slots, %offsets : f32[T,2]",
            "  %d_b2 = bias_grad %d_y, %offsets : f32[8,64]",
            "  %d_a = grouped_matmul_dx %d_y, %w2, %offsets : f32[S,128]",
            "  %a = gelu %hb : f32[S,128]",
            "  %d_w2 = grouped_matmul_dw %a, %d_y, %offsets : f32[8,128,64]",
            "  %d_hb = gelu_grad %hb, %d_a : f32[S,128]",
            "  %d_b1 = bias_grad %d_hb, %offsets : f32[8,128]",
            "  %d_rows = grouped_matmul_dx %d_hb, %w1, %offsets : f32[S,64]",
            "  %d_w1 = grouped_matmul_dw %rows, %d_hb, %offsets : f32[8,64,128]",
            "  %d_x = dispatch_grad %d_rows, %experts, %slots, %offsets : f32[T,64]",
            "  %d_probs = aux_loss_grad %d_aux, %probs, %experts {alpha=0.01} : f32[T,8]",
            "  %d_top_w = renorm_grad %top_w, %d_gates : f32[T,2]",
            "  %d_probs_2 = topk_grad %d_top_w, %top_e {experts=8} : f32[T,8]",
            "  %d_probs_sum2 = add %d_probs, %d_probs_2 : f32[T,8]",
            "  %d_logits = softmax_grad %probs, %d_probs_sum2 : f32[T,8]",
            "  %d_x_2 = matmul_nt %d_logits, %wg : f32[T,64]",
            "  %d_x_sum2 = add %d_x, %d_x_2 : f32[T,64]",
            "  %d_wg = matmul_tn %x, %d_logits : f32[64,8]",
        }, TestSpecs.Lines(IrPrinter.Print(b.Graph)));
    }

    [Fact]
    public void The_backward_is_fused_and_planned_by_the_forward_s_passes()
    {
        var b = Backward(TestSpecs.Make(RouterKind.GShard));

        Assert.Equal(new[]
        {
            new[] { "combine_grad_rows" },
            new[] { "combine_grad_gates" },
            new[] { "bias_grad" },
            new[] { "grouped_matmul_dx", "gelu_grad" },
            new[] { "gelu", "grouped_matmul_dw" },
            new[] { "bias_grad" },
            new[] { "grouped_matmul_dx" },
            new[] { "grouped_matmul_dw" },
            new[] { "dispatch_grad" },
            new[] { "aux_loss_grad" },
            new[] { "renorm_grad", "topk_grad", "add", "softmax_grad", "matmul_nt", "add" },
            new[] { "matmul_tn" },
        }, TestSpecs.KernelOps(b.Plan.Kernels));
        var text = b.ToString();
        Assert.Contains("  k3 d_expert_ffn[grouped_matmul_dx, gelu_grad]", text, StringComparison.Ordinal);
        Assert.Contains("  k0 d_dispatch [combine_grad_rows]", text, StringComparison.Ordinal);
        Assert.Contains("  k4 wgrad      [gelu, grouped_matmul_dw]", text, StringComparison.Ordinal);
        Assert.Contains(b.Plan.Decisions, d => d.Fused && d.Op == "%d_w2 = grouped_matmul_dw" && d.Reason.StartsWith("prologue: the weight-gradient GEMM recomputes the activation", StringComparison.Ordinal));
        Assert.Contains("  not fused: %d_wg = matmul_tn into k10 — a weight's gradient sums over every row that read the weight; row-parallel threads would need atomics and lose determinism, so it runs in tiles of the weight", text, StringComparison.Ordinal);
        Assert.Contains("  not fused: %d_x = dispatch_grad into k6 — dispatch_grad sums rows written by different experts' tiles; fusing needs atomics and loses determinism", text, StringComparison.Ordinal);

        // Saved activations are read where they are: the recomputed one never becomes a buffer.
        Assert.DoesNotContain(b.Plan.Materialized, m => m.Value == "a");
    }

    public static TheoryData<RouterKind, ActivationKind> Differentiable => new()
    {
        { RouterKind.TopK, ActivationKind.SwiGlu },
        { RouterKind.Switch, ActivationKind.Relu },
        { RouterKind.GShard, ActivationKind.Silu },
        { RouterKind.DeepSeek, ActivationKind.GeGlu },
        { RouterKind.Hash, ActivationKind.Gelu },
        { RouterKind.NoisyTopK, ActivationKind.Relu },
        { RouterKind.ExpertChoice, ActivationKind.SwiGlu },
    };

    [Theory]
    [MemberData(nameof(Differentiable))]
    public void Every_gradient_has_its_value_s_type_and_every_learned_weight_gets_one(RouterKind router, ActivationKind activation)
    {
        var b = Backward(TestSpecs.Make(router, activation));
        var forward = b.Forward.ValueTypes();
        var backward = b.Graph.ValueTypes();

        foreach (var (value, gradient) in b.Gradients)
        {
            Assert.Equal(forward[value], backward[gradient]);
        }

        var weights = b.Forward.Nodes.Where(n => n.Op == Ops.Param).Select(n => n.Results[0]);
        Assert.Equal(weights.OrderBy(w => w), b.Gradients.Keys.Where(k => k != "x").Concat(b.NoGradient).OrderBy(w => w));
        Assert.Contains("x", b.Gradients.Keys);
        Assert.Equal(router == RouterKind.DeepSeek ? new[] { "bias" } : Array.Empty<string>(), b.NoGradient);
        Assert.DoesNotContain(b.Graph.Nodes, n => n.Op is Ops.Capacity or Ops.Scan or Ops.SecondDrop or Ops.NonFinite);
    }

    [Fact]
    public void A_gated_activation_s_gradient_widens_back_to_gate_and_up()
    {
        var b = Backward(TestSpecs.Make(RouterKind.TopK, ActivationKind.SwiGlu));

        Assert.Contains("  %d_hb = swiglu_grad %hb, %d_a : f32[S,256]", TestSpecs.Lines(IrPrinter.Print(b.Graph)));
        Assert.Contains("  %a = swiglu %hb : f32[S,128]", TestSpecs.Lines(IrPrinter.Print(b.Graph)));
    }

    [Fact]
    public void The_recompute_policy_decides_whether_activations_are_saved()
    {
        var recompute = Backward(TestSpecs.Make(RouterKind.GShard));
        var save = Backward(TestSpecs.Make(RouterKind.GShard), RecomputePolicy.SaveAll);

        Assert.Equal(new[] { "a" }, recompute.Recomputed.SelectMany(r => r.Node.Results));
        Assert.DoesNotContain("a", recompute.Saved);
        Assert.Contains("recomputed: %a = gelu %hb : f32[S,128] — an activation: recomputed from %hb in one elementwise pass instead of holding f32[S,128] until backward (MegaBlocks)", recompute.ToString(), StringComparison.Ordinal);
        Assert.Empty(save.Recomputed);
        Assert.Contains("a", save.Saved);
        Assert.DoesNotContain(save.Graph.Nodes, n => n.Op == Ops.Gelu);
    }

    [Fact]
    public void The_deepseek_bias_only_chooses_and_is_reported_without_a_gradient()
    {
        var b = Backward(TestSpecs.Make(RouterKind.DeepSeek));

        Assert.Contains("  no gradient: %bias (gate.bias) — no float path from it reaches a seed (it only chooses, or is not read)", TestSpecs.Lines(b.ToString()));
        Assert.Contains(b.Graph.Nodes, n => n.Op == Ops.SigmoidGrad);
    }

    [Fact]
    public void Contributions_to_one_value_are_summed_in_reverse_program_order()
    {
        var b = Backward(
            "graph g(%x: f32[T,4]) -> (%p, %q)\n" +
            "  %w = param {name=w, fan_in=4} : f32[4,3]\n" +
            "  %v = param {name=v, fan_in=4} : f32[4,3]\n" +
            "  %p = matmul %x, %w\n" +
            "  %q = matmul %x, %v\n");

        Assert.Equal(new[]
        {
            "  %d_x = matmul_nt %d_q, %v : f32[T,4]",
            "  %d_v = matmul_tn %x, %d_q : f32[4,3]",
            "  %d_x_2 = matmul_nt %d_p, %w : f32[T,4]",
            "  %d_x_sum2 = add %d_x, %d_x_2 : f32[T,4]",
            "  %d_w = matmul_tn %x, %d_p : f32[4,3]",
        }, TestSpecs.Lines(IrPrinter.Print(b.Graph)).Skip(3));
        Assert.Equal("d_x_sum2", b.Gradients["x"]);
    }

    [Fact]
    public void Only_float_outputs_seed_the_backward_and_integer_inputs_learn_nothing()
    {
        var b = Backward(TestSpecs.Make(RouterKind.Hash));

        Assert.Equal(new[] { "d_out" }, b.Seeds);
        Assert.DoesNotContain("ids", b.Gradients.Keys);
        Assert.DoesNotContain(b.Graph.Nodes, n => n.Op == Ops.CombineGradGates); // the hash gate is the constant 1
    }

    [Fact]
    public void An_op_without_a_gradient_rule_is_refused_by_name()
    {
        // Backward ops have no rules of their own (no second derivatives): one in a forward graph is refused.
        var ex = Assert.Throws<CompileException>(() => Backward(
            "graph g(%x: f32[T,4]) -> (%y)\n" +
            "  %w = param {name=w, fan_in=4} : f32[4,3]\n" +
            "  %p = matmul %x, %w\n" +
            "  %y = softmax_grad %p, %p\n"));

        Assert.Equal("%y = softmax_grad: no gradient rule is written for 'softmax_grad' yet, so the graph cannot be differentiated through it", ex.Message);
    }

    [Fact]
    public void Every_forward_op_a_lowering_writes_has_a_gradient_rule()
    {
        var lowered = Enum.GetValues<RouterKind>().SelectMany(r => Enum.GetValues<ActivationKind>().Select(a =>
            MoeLowering.Lower(TestSpecs.Make(r, a, topK: r == RouterKind.ExpertChoice ? 0 : null) with { Jitter = 0.1f, ZLossWeight = 0.1f, SharedExperts = r == RouterKind.DeepSeek ? 1 : 0 })))
            .Append(ModelLowering.Training(ModelLowering.Lower(new ModelSpec("N", "Lm", "public", 100, 64, 2, 32, NormKind.LayerNorm, 1e-5f, 8, 2, true, PositionKind.Rope, 10000f, TestSpecs.Make() with { ClassName = "M" }, 2, 48) { QkNorm = true })))
            .Append(ModelLowering.Lower(new ModelSpec("N", "Lm", "public", 100, 64, 2, 32, NormKind.RmsNorm, 1e-5f, 8, 2, true, PositionKind.Rope, 10000f, TestSpecs.Make() with { ClassName = "M" }, 1, 48)));
        var ops = lowered.SelectMany(g => g.Nodes).Select(n => n.Op).Where(op => op != Ops.Param).Distinct().OrderBy(op => op).ToList();

        Assert.Contains(Ops.NoisyLoss, ops);
        Assert.Contains(Ops.Sample, ops);
        Assert.DoesNotContain(ops, op => Ops.Get(op).Gradient == null);
    }

    [Fact]
    public void A_forward_name_the_backward_needs_is_refused_rather_than_shadowed()
    {
        var ex = Assert.Throws<CompileException>(() => Backward(
            "graph g(%x: f32[T,4]) -> (%p)\n" +
            "  %w = param {name=w, fan_in=4} : f32[4,3]\n" +
            "  %d_x = matmul %x, %w\n" +
            "  %p = softmax %d_x {axis=1}\n"));

        Assert.Equal("autodiff: the backward of %x names a value %d_x, which the forward graph already uses; rename that value", ex.Message);
    }

    [Fact]
    public void A_moe_model_s_training_graph_differentiates_with_no_work_done_twice()
    {
        var moe = TestSpecs.Make(RouterKind.TopK, ActivationKind.SwiGlu, dim: 64, experts: 4, hidden: 32) with { ClassName = "LmMoe" };
        var spec = new ModelSpec("N", "Lm", "public", 100, 64, 4, 32, NormKind.LayerNorm, 1e-5f, 8, 2, true, PositionKind.Rope, 10000f, moe, 2, 48) { QkNorm = true };
        var training = ModelLowering.Training(ModelLowering.Lower(spec));
        ShapeInference.Run(training);

        var b = Autodiff.Run(training);

        Assert.Equal(new[] { "d_loss" }, b.Seeds);
        Assert.Equal(2, b.Graph.Nodes.Count(n => n.Op == Ops.MoeGrad));
        Assert.Equal(4, b.Graph.Nodes.Count(n => n.Op == Ops.AttentionGrad));
        Assert.Contains("l0_att_lse", b.Saved); // attention's LSE is kept from the forward, P recomputed from it
        Assert.DoesNotContain(b.Graph.Nodes, n => n.Op == Ops.AttentionLse);
        Assert.Empty(b.NoGradient);
        var work = b.Graph.Nodes.Where(n => n.Op != Ops.Param).Select(n => $"{n.Op} {string.Join(",", n.Operands)} {string.Join(",", n.Attributes)}").ToList();
        Assert.Equal(work.Count, work.Distinct().Count());
    }

    [Fact]
    public void The_backward_graph_round_trips_through_the_ir_text()
    {
        var b = Backward(TestSpecs.Make(RouterKind.DeepSeek, ActivationKind.SwiGlu));
        var text = IrPrinter.Print(b.Graph);

        var reparsed = IrParser.Parse(text);
        Verifier.Verify(reparsed, requireTypes: true);
        ShapeInference.Run(reparsed);

        Assert.Equal(text, IrPrinter.Print(reparsed));
    }
}
