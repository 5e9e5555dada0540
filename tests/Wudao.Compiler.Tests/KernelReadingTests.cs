using System.Linq;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>Kernel readings: what each target's emitter takes from the plan, and nothing else.</summary>
public class KernelReadingTests
{
    private static Plan.KernelPlan PlanFor(MoeLayerSpec spec) => PassPipeline.Run(MoeLowering.Lower(spec));

    [Fact]
    public void A_gshard_gate_is_its_ops_fragments_in_node_order_with_jitter_applied_on_load()
    {
        var plan = PlanFor(TestSpecs.Make(RouterKind.GShard) with { ZLossWeight = 0.001f, Jitter = 0.01f });

        var gate = Assert.IsType<GateKernel>(KernelReading.ReadAll(plan)[0]);

        Assert.Equal(new[] { "x", "w_wg", "probs", "experts", "gates", "lse", "args" }, gate.Parameters.Select(p => p.Name));
        var lines = new[] { "%xj = jitter %x", "%logits = matmul %xj, %wg", "%probs = softmax %logits", "%top_w, %top_e = topk %probs", "%gates = renorm %top_w", "%experts = second_drop %gates, %top_e", "%lse = logsumexp %logits" };
        var at = lines.Select(l => gate.TokenBody.IndexOf("// " + l + ":", System.StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(-1, at);
        Assert.Equal(at.OrderBy(i => i), at);

        // The GEMV reads x through jitter's load, and so does a schedule batching it.
        Assert.Contains("(args.Training != 0 ? x[xo + d] * (1f + (0.01f * ", gate.TokenBody);
        Assert.Equal(new[] { "w_wg" }, gate.LogitWeights);
        Assert.StartsWith("(cpu.Training != 0 ? X(7) * (1f + (0.01f * ", gate.GemvLoad!("7", "c", "cpu", "X(7)"));
        Assert.Equal(1, gate.ScratchRows); // the logits; probs, the choices and lse leave through buffers
    }

    [Fact]
    public void A_switch_gate_has_neither_renorm_nor_drop_and_its_route_names_its_losses()
    {
        var readings = KernelReading.ReadAll(PlanFor(TestSpecs.Make(RouterKind.Switch) with { ZLossWeight = 0.001f }));

        var gate = Assert.IsType<GateKernel>(readings[0]);
        var route = Assert.IsType<RouteKernel>(readings[1]);
        Assert.Null(gate.GemvLoad);
        Assert.DoesNotContain("renorm", gate.TokenBody);
        Assert.DoesNotContain("second_drop", gate.TokenBody);
        Assert.Equal(("Meta_kept", "Meta_offsets", "Meta_dropped"), (route.Kept, route.Offsets, route.Dropped));
        Assert.Equal(new[] { "nonfinite", "aux_loss", "z_loss" }, route.RouteOps.Select(o => o.Node.Op));
        Assert.Equal(new[] { "Partial_tokens", "Partial_counts", "Partial_nonfinite", "Partial_probs", "Partial_lse2" }, route.Partials.Select(p => p.Name));
        Assert.Equal(new[] { "experts", "probs", "slots", "meta", "lse", "x", "gathered", "args" }, route.Parameters.Select(p => p.Name));

        // Each op's finish writes its own statistic, with the weight its node holds.
        var z = route.RouteOps.Single(o => o.Node.Op == "z_loss");
        Assert.Contains("meta[Meta_zloss] = (int)global::ILGPU.Interop.FloatAsInt(total > 0 ? 0.001f * (zs / total) : 0f);", z.Op.IlgpuFinish(z.Node));
        Assert.Contains("Kernels.Meta_zloss) = global::System.BitConverter.SingleToInt32Bits(total > 0 ? 0.001f * (zs / total) : 0f);", z.Op.NativeFinish(z.Node));
        var aux = route.RouteOps.Single(o => o.Node.Op == "aux_loss");
        Assert.Equal("0.01", aux.Node.Attr("alpha"));
        Assert.Contains("meta[Meta_aux] = (int)global::ILGPU.Interop.FloatAsInt(0.01f * E * s);", aux.Op.IlgpuFinish(aux.Node));
        Assert.Contains("SingleToInt32Bits(0.01f * Kernels.E * s);", aux.Op.NativeFinish(aux.Node));
    }

    [Fact]
    public void A_route_op_with_no_fragment_is_refused_by_name()
    {
        var ex = Assert.Throws<KernelAssemblyException>(() => KernelReading.ReadAll(PassPipeline.Run(Ir.IrParser.Parse(
            "graph g(%e: i32[T,2]) -> (%slots, %o, %o2, %dropped)\n" +
            "  %slots, %kept, %dropped = capacity %e {experts=4, factor=1}\n" +
            "  %o = scan %kept\n" +
            "  %o2 = scan %kept\n"))));

        Assert.Equal("k0: no route fragment for %o2 = scan in [capacity, scan, scan]", ex.Message);
    }

    [Fact]
    public void Per_token_routers_share_one_body_and_name_the_weights_a_schedule_may_batch()
    {
        var noisy = Assert.IsType<GateKernel>(KernelReading.ReadAll(PlanFor(TestSpecs.Make(RouterKind.NoisyTopK) with { ImportanceWeight = 0.1f, LoadWeight = 0.1f }))[0]);
        var deepSeek = Assert.IsType<GateKernel>(KernelReading.ReadAll(PlanFor(TestSpecs.Make(RouterKind.DeepSeek, auxLossWeight: 0f)))[0]);

        // Noisy: logits, raw, H; DeepSeek: logits, scores. The GEMVs' rows come first.
        Assert.Equal((3, 2), (noisy.ScratchRows, deepSeek.ScratchRows));
        Assert.Equal(new[] { "w_wg", "w_wn" }, noisy.LogitWeights);
        Assert.Equal(new[] { "w_wg" }, deepSeek.LogitWeights);
        Assert.Equal(new[] { "x", "w_wg", "w_wn", "experts", "gates", "pload", "args" }, noisy.Parameters.Select(p => p.Name));
        Assert.Contains("// %noisy = noisy %logits, %raw: H = logits + ε·softplus(raw)", noisy.TokenBody);
        Assert.StartsWith("/// <summary>k0 gate for one token", RouterTokenFragments.Method(noisy));
    }

    private static GateKernel GateOf(string ir) => Assert.IsType<GateKernel>(KernelReading.ReadAll(PassPipeline.Run(Ir.IrParser.Parse(ir)))[0]);

    private const string SigmoidGate =
        "graph g(%x: f32[T,64]) -> (%gates, %top_e)\n" +
        "  %wg = param {name=gate.weight, fan_in=64} : f32[64,8]\n" +
        "  %l = matmul %x, %wg\n" +
        "  %sc = sigmoid %l\n" +
        "  %top_s, %top_e = topk %sc {k=2}\n";

    [Fact]
    public void A_router_no_template_names_is_its_ops_fragments_in_node_order()
    {
        // Sigmoid scores, plain top-k, renormalised: no router declares this; its ops' fragments make it.
        var gate = GateOf(SigmoidGate + "  %gates = renorm %top_s\n");

        var body = gate.TokenBody!;
        var order = new[] { "%l = matmul %x, %wg:", "%sc = sigmoid %l:", "%top_s, %top_e = topk %sc:", "%gates = renorm %top_s:" }.Select(c => body.IndexOf("// " + c, System.StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(-1, order);
        Assert.Equal(order.OrderBy(i => i), order);
        Assert.Equal(2, gate.ScratchRows);
        Assert.Equal(new[] { "x", "w_wg", "experts", "gates", "args" }, gate.Parameters.Select(p => p.Name));
        Assert.Contains("s[8 + e] = DeviceSigmoid(s[e]);", body);
        Assert.Contains("long co = (long)ti * 2;", body);
    }

    [Fact]
    public void A_per_token_gate_op_with_no_fragment_is_refused_by_name()
    {
        // rms_norm runs per token row too, but it is a model op: no gate fragment holds it.
        var ex = Assert.Throws<KernelAssemblyException>(() => GateOf(SigmoidGate.Replace("-> (%gates, %top_e)", "-> (%d, %top_e)").Replace("%l = matmul %x, %wg\n", "%l = matmul %x, %wg\n  %g = param {name=g, fan_in=8} : f32[8]\n") + "  %d = rms_norm %sc, %g {eps=0.00001}\n"));

        Assert.Equal("k0: no per-token fragment for %d = rms_norm in [matmul, sigmoid, topk, rms_norm]", ex.Message);
    }

    [Fact]
    public void Router_logits_another_kernel_reads_are_not_kept_in_scratch()
    {
        var ex = Assert.Throws<KernelAssemblyException>(() => GateOf(SigmoidGate.Replace("-> (%gates, %top_e)", "-> (%l, %top_s, %top_e)")));

        Assert.Equal("k0: %l is read by another kernel, but the per-token gate keeps it in a scratch row", ex.Message);
    }

    [Fact]
    public void A_choice_value_read_after_its_buffer_is_rewritten_is_refused()
    {
        // Both renorms write the gates buffer in place; the second reads %top_s after the first overwrote it.
        var ex = Assert.Throws<KernelAssemblyException>(() => GateOf(SigmoidGate.Replace("-> (%gates, %top_e)", "-> (%b, %top_e)") + "  %a = renorm %top_s\n  %b = renorm %top_s\n"));

        Assert.Equal("k0: %top_s is read by %b = renorm after %a = renorm rewrote the gates buffer it lives in", ex.Message);
    }

    [Fact]
    public void Layer_sizes_come_from_the_plan_with_shared_experts_after_the_routed_ones()
    {
        var spec = TestSpecs.Make(RouterKind.DeepSeek, ActivationKind.SwiGlu, dim: 64, experts: 8, hidden: 96, auxLossWeight: 0f) with { SharedExperts = 1 };

        var shape = LayerShape.From(PlanFor(spec));

        Assert.Equal(new LayerShape(64, 9, 3, 8, 2, 96, 192), shape);
        Assert.Equal((spec.Dim, spec.FfnExperts, spec.Choices, spec.Experts, spec.TopK, spec.Hidden, spec.HiddenIn), (shape.D, shape.E, shape.K, shape.ER, shape.KR, shape.H, shape.H1));
    }

    [Fact]
    public void The_native_target_assembles_every_kernel_from_the_readings_alone()
    {
        var readings = KernelReading.ReadAll(PlanFor(TestSpecs.Make(RouterKind.GShard)));
        var w = new SourceWriter();

        CpuKernelEmitter.Emit(w, readings);

        var source = w.ToString();
        foreach (var k in readings)
        {
            Assert.Contains($"public void {k.Method}(int item, int worker)", source);
        }

        Assert.Contains("tiles = CountTiles(ref global::Wudao.CpuMemory.Ref(meta), Kernels.Meta_offsets);", source);
    }
}
