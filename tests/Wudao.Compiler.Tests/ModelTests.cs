using System.Linq;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>A declared transformer: validation, its graph, its plan, and what the emitter makes of it.</summary>
public class ModelTests
{
    private static ModelSpec Make(int layers = 4, int heads = 8, int kvHeads = 2, int dim = 256, int every = 2, NormKind norm = NormKind.RmsNorm, RouterKind router = RouterKind.TopK) =>
        new("N", "Lm", "public", 4096, dim, layers, 1024, norm, 1e-5f, heads, kvHeads, true, PositionKind.Rope, 10000f,
            TestSpecs.Make(router, ActivationKind.SwiGlu, dim: dim, experts: 8, topK: router == RouterKind.Switch ? 1 : 2, hidden: 512, capacityFactor: 0f) with { ClassName = "LmMoe" },
            every, 512);

    [Fact]
    public void Valid_model_has_no_errors()
    {
        Assert.Empty(ModelSpecValidator.Validate(Make()));
        Assert.Empty(ModelSpecValidator.Validate(Make(norm: NormKind.LayerNorm, every: 1, kvHeads: 8)));
    }

    [Theory]
    [InlineData(6, 2, "Heads", "does not split into Heads = 6")]
    [InlineData(8, 3, "KvHeads", "KvHeads = 3 must divide Heads = 8")]
    [InlineData(64, 8, "Heads", "head dimension Dim / Heads = 4 is not a multiple of 8")]
    public void Bad_head_layout_names_the_property(int heads, int kvHeads, string property, string message)
    {
        var error = Assert.Single(ModelSpecValidator.Validate(Make(heads: heads, kvHeads: kvHeads)));

        Assert.Equal(property, error.Property);
        Assert.Equal(SpecErrorKind.InvalidModelShape, error.Kind);
        Assert.Contains(message, error.Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Feed_forward_rules_apply_inside_a_model()
    {
        var spec = Make() with { Every = 0 };
        spec = spec with { Moe = spec.Moe with { TopK = 9 } };

        var errors = ModelSpecValidator.Validate(spec);

        Assert.Contains(errors, e => e.Property == "Every" && e.Kind == SpecErrorKind.NonPositiveSize);
        Assert.Contains(errors, e => e.Property == "TopK" && e.Kind == SpecErrorKind.TopKExceedsExperts);
    }

    [Fact]
    public void Expert_choice_is_refused_in_a_causal_model_and_a_too_wide_model_names_Dim()
    {
        var choice = Make();
        choice = choice with { Moe = choice.Moe with { Router = RouterKind.ExpertChoice, TopK = 0, CapacityFactor = 2f } };
        var wide = Make(dim: 16384, heads: 128, kvHeads: 128);

        Assert.Contains(ModelSpecValidator.Validate(choice), e => e.Kind == SpecErrorKind.InvalidRouterCombination && e.Message.Contains("see the future"));
        Assert.Contains(ModelSpecValidator.Validate(wide), e => e.Property == "Dim" && e.Kind == SpecErrorKind.SizeTooLarge);
    }

    [Fact]
    public void Graph_has_one_block_per_layer_with_moe_every_second()
    {
        var graph = ModelLowering.Lower(Make());
        var plan = PassPipeline.Run(graph);
        var text = IrPrinter.Print(graph);

        Assert.Contains("%l0_qkv = linear %l0_x, %l0_wqkv : f32[T,384]", text, System.StringComparison.Ordinal);
        Assert.Contains("%l0_att = attention %l0_qkv {heads=8, kv_heads=2, head_dim=32, causal=1, rope=1, rope_base=10000, max_seq=1024} : f32[T,256]", text, System.StringComparison.Ordinal);
        Assert.Contains("%l1_f = moe %l1_y {layer=LmMoe, weights=layers.1.moe.}", text, System.StringComparison.Ordinal);
        Assert.Contains("%l0_f = dense_ffn %l0_y, %l0_w1, %l0_b1, %l0_w2, %l0_b2 {activation=swiglu}", text, System.StringComparison.Ordinal);
        Assert.Equal(new[] { "l1_f", "l3_f" }, graph.Nodes.Where(n => n.Op == Ops.Moe).Select(n => n.Results[0]));
        Assert.DoesNotContain("by_ids", text, System.StringComparison.Ordinal);
        Assert.Contains("%l1_f = moe %l1_y {layer=LmMoe, weights=layers.1.moe., by_ids=1}", IrPrinter.Print(ModelLowering.Lower(Make(router: RouterKind.Hash) with { Moe = Make(router: RouterKind.Hash).Moe with { Vocab = 4096 } })), System.StringComparison.Ordinal);
        Assert.Equal(new[] { 4096, 256 }, plan.Weights.Single(w => w.Name == "embed.weight").Type.Shape.Select(d => d.Value));
        Assert.Equal(new[] { 256, 384 }, plan.Weights.Single(w => w.Name == "layers.2.attn.qkv.weight").Type.Shape.Select(d => d.Value));
        Assert.Equal(new[] { 256, 1024 }, plan.Weights.Single(w => w.Name == "layers.0.ffn.w1").Type.Shape.Select(d => d.Value));
        IrParser.Parse(text); // the printed model parses back
    }

    [Fact]
    public void Plan_fuses_norm_with_residual_and_keeps_qkv_and_attention_one_kernel_each()
    {
        var plan = PassPipeline.Run(ModelLowering.Lower(Make()));
        var ops = TestSpecs.KernelOps(plan.Kernels).Select(k => string.Join(",", k)).ToList();

        Assert.Equal("embed,rms_norm", ops[0]);
        Assert.Equal(new[] { "linear", "attention", "linear", "add_rms_norm", "dense_ffn", "add_rms_norm" }, ops.Skip(1).Take(6));
        Assert.Equal(4, ops.Count(o => o == "attention"));
        Assert.Equal(2, ops.Count(o => o == "moe"));
        Assert.Equal(8, ops.Count(o => o == "add_rms_norm")); // one per block's feed-forward, one before blocks 1..3, one final
        Assert.Equal(new[] { "linear", "sample" }, ops.TakeLast(2));
        Assert.Equal(1 + (4 * 6) + 2, plan.Kernels.Count);
        Assert.Equal(3, plan.HostSyncs);
        Assert.Contains(plan.Decisions, d => d.Fused && d.Op == "%l0_x = rms_norm" && d.Reason.Contains("row-local"));
        Assert.Contains(plan.Decisions, d => !d.Fused && d.Op == "%l0_att = attention" && d.Reason.Contains("every earlier token"));
        Assert.Contains(plan.Decisions, d => !d.Fused && d.Op == "%l0_r = add_rms_norm" && d.Reason.Contains("reduces over whole rows"));
    }

    [Fact]
    public void Layer_norm_carries_its_bias()
    {
        var graph = ModelLowering.Lower(Make(norm: NormKind.LayerNorm, layers: 1, every: 1));
        PassPipeline.Run(graph);

        Assert.Contains(graph.Nodes, n => n.Op == Ops.AddLayerNorm && n.Operands.Count == 4);
        Assert.Contains(graph.Nodes, n => n.Op == Ops.Param && n.Attr("name") == "layers.0.attn_norm.bias" && n.Attr("fan_in") == "0");
        Assert.Contains(graph.Nodes, n => n.Op == Ops.Param && n.Attr("name") == "norm.weight" && n.Attr("fan_in") == "-1");
    }

    [Theory]
    [InlineData(RouterKind.DeepSeek, true)]
    [InlineData(RouterKind.TopK, false)]
    public void Bias_balancing_is_an_attribute_of_the_moe_node_the_model_emitter_reads(RouterKind router, bool balances)
    {
        var spec = Make(router: router);
        var compiled = ModelCompiler.Compile(spec with { Moe = spec.Moe with { AuxLossWeight = router == RouterKind.DeepSeek ? 0f : spec.Moe.AuxLossWeight } });

        var moe = compiled.Graph.Nodes.Where(n => n.Op == Ops.Moe).ToList();
        Assert.NotEmpty(moe);
        Assert.All(moe, n => Assert.Equal(balances ? "1" : null, n.Attr("balance_bias")));
        Assert.Equal(balances, compiled.Source.Contains("public void UpdateBalanceBias()", System.StringComparison.Ordinal));
    }

    [Fact]
    public void Compiled_model_specialises_attention_on_the_head_dimension_and_compiles_its_moe_layer()
    {
        var compiled = ModelCompiler.Compile(Make());

        Assert.Contains("NativeAttention.Forward<NativeAttention32>", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("private readonly struct NativeAttention32 : global::Wudao.Attention.INativeAttentionKernel", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("private const int D = 32;", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("private readonly LmMoe _moe_l1_f;", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("partial class LmMoe", compiled.Moe.Source, System.StringComparison.Ordinal);
        Assert.Contains("MoE blocks run LmMoe:", compiled.Source, System.StringComparison.Ordinal);
        Assert.Throws<CompileException>(() => ModelCompiler.Compile(Make(heads: 6)));
    }

    [Fact]
    public void A_model_kernel_holding_an_op_no_schedule_emits_is_refused_by_name()
    {
        var spec = Make();
        var plan = PassPipeline.Run(ModelLowering.Lower(spec));
        var qkv = plan.Kernels.First(k => k.OpNames.SequenceEqual(new[] { Ops.Linear }));
        qkv.Nodes.Add(new Node(Ops.Relu, new[] { "extra" }, new[] { qkv.Nodes[0].Results[0] }));

        var ex = Assert.Throws<KernelAssemblyException>(() => Codegen.ModelEmitter.Emit(ModelCompiler.Declaration(spec), plan, "", "", ""));

        Assert.Equal($"k{qkv.Index} gemm: the model schedules have no fragment for %extra = relu fused after [linear]", ex.Message);
    }

    [Fact]
    public void Dense_feed_forward_takes_its_activation_from_the_registry()
    {
        var spec = Make() with { Moe = Make().Moe with { Activation = ActivationKind.GeGlu } };
        var source = ModelCompiler.Compile(spec).Source;

        Assert.Contains("private static class DenseGeGlu512", source);
        Assert.Contains("a[i] = DeviceGelu(x) * u;", source);
        Assert.Contains("DenseGeGlu512.Native(h_l0_f, a_l0_f, t);", source);
        Assert.Contains("_gemm.Linear(_session.Workers!, _workspace, global::Wudao.Models.Workspace.OffsetOf(_workspace, v_l0_y), t, 256, _p_l0_w1, 1024, _w_l0_b1, _workspace, global::Wudao.Models.Workspace.OffsetOf(_workspace, h_l0_f));", source);
    }

    [Fact]
    public void Every_native_gemm_of_the_model_reads_its_weight_packed_once_at_load()
    {
        var plan = ModelCompiler.Compile(Make());
        var packed = Codegen.ModelGemmEmitter.PackedWeights(plan.Plan);
        var gemms = plan.Plan.Kernels.Where(k => k.Space == IterationSpace.DenseRows).ToList();

        // Every dense kernel's weight(s): the fused q/k/v, output projections, the LM head, dense MLPs.
        Assert.Equal(gemms.Sum(k => k.Nodes[0].Op == Ops.DenseFfn ? 2 : 1), packed.Count);
        Assert.Contains(packed, p => p.N == 4096);
        foreach (var (value, k, n) in packed)
        {
            Assert.Contains($"_p_{value} = session.Workers != null ? NativeGemm.Pack(_w_{value}, 1, {k}, {n}) : global::System.Array.Empty<float>();", plan.Source);
        }

        Assert.DoesNotContain("ModelOps.", plan.Source);
        Assert.DoesNotContain("DeviceModelOps", plan.Source);
    }

    [Fact]
    public void Device_gemms_launch_their_schedule_tiles_and_the_plan_prints_them()
    {
        var compiled = ModelCompiler.Compile(Make());
        var gemms = string.Join(", ", compiled.Plan.Kernels.Where(k => k.Space == IterationSpace.DenseRows).Select(k => $"k{k.Index}"));

        Assert.Contains($"  ilgpu schedule: GEMMs of {gemms} groups of ceil(rows/64) x ceil(N/64), tile 64x64 and K steps of 16 in shared memory, 4x4 outputs a thread; at most 8 rows: groups of ceil(rows/8) x ceil(N/32), tile 8x32 and K steps of 32 in shared memory, 1x1 outputs a thread; 256 threads a group\n", compiled.Source);
        // The LM head (N = 4096): ceil(rows/TM) x ceil(N/TN) groups of either tile, nothing for no rows.
        Assert.Contains("if (rows > 8)\n", compiled.Source);
        Assert.Contains("_kDeviceLinear256x4096!(new global::ILGPU.KernelConfig(((rows + 63) / 64) * 64, _gemmGroup), ", compiled.Source);
        Assert.Contains("else if (rows > 0)\n", compiled.Source);
        Assert.Contains("_kDeviceLinear256x4096Decode!(new global::ILGPU.KernelConfig(((rows + 7) / 8) * 128, _gemmGroup), ", compiled.Source);
        Assert.Equal(0, IlgpuSchedule.GemmThreads & (IlgpuSchedule.GemmThreads - 1));
        foreach (var tile in new[] { IlgpuSchedule.Gemm, IlgpuSchedule.DecodeGemm })
        {
            Assert.Equal((0, 0, IlgpuSchedule.GemmThreads), (tile.Rows % tile.RegRows, tile.Cols % tile.RegCols, tile.Threads));
            Assert.True(tile.SharedFloats * sizeof(float) <= IlgpuSchedule.SharedBytes);
        }
    }

    [Fact]
    public void Qk_norm_lowers_to_one_op_with_its_two_weights_between_the_projection_and_attention()
    {
        var compiled = ModelCompiler.Compile(Make(heads: 8, kvHeads: 2) with { QkNorm = true });
        var nodes = compiled.Graph.Nodes;

        var norm = Assert.Single(nodes, n => n.Op == Ops.QkNorm && n.Results[0] == "l0_qkvn");
        Assert.Equal(new[] { "l0_qkv", "l0_qn", "l0_kn" }, norm.Operands);
        Assert.Equal(("8", "2"), (norm.Attr("heads"), norm.Attr("kv_heads")));
        Assert.Equal("l0_qkvn", Assert.Single(nodes, n => n.Op == Ops.Attention && n.Results[0] == "l0_att").Operands[0]);
        Assert.Contains(compiled.Plan.Weights, w => w.Name == "layers.3.attn.k_norm.weight" && w.Type.Shape[0].Value == 32 && w.FanIn == -1);

        // Fused into attention as its prologue (producer into consumer): the kernel runs in
        // attention's space, normalises heads as it loads them, and the normalised rows get no buffer.
        var kernel = Assert.Single(compiled.Plan.Kernels, k => k.Nodes.Contains(norm));
        Assert.Equal("attention", kernel.Name);
        Assert.Equal(new[] { Ops.QkNorm, Ops.Attention }, kernel.OpNames);
        Assert.Contains(compiled.Plan.Decisions, d => !d.Fused && d.Op == "%l0_qkvn = qk_norm" && d.Reason.Contains("reduces over whole rows"));
        Assert.Contains(compiled.Plan.Decisions, d => d.Fused && d.Op == "%l0_att = attention" && d.Reason.StartsWith("prologue:", System.StringComparison.Ordinal));
        Assert.Contains("SplitQkv(v_l0_qkv, t,", compiled.Source);
        Assert.Contains("NativeAttention.Forward<NativeAttention32QkNorm>(_shape, _cache_l0_att!, q_l0_att, k_l0_att, vv_l0_att, v_l0_att, ws.Take((long)t * 8), offsets, _session.Workers, _w_l0_qn, _w_l0_kn);", compiled.Source);
        Assert.DoesNotContain("v_l0_qkvn", compiled.Source);
        Assert.Contains("qkNorm: true", compiled.Source);
        Assert.DoesNotContain(Ops.QkNorm, ModelCompiler.Compile(Make()).Graph.Nodes.Select(n => n.Op));
    }

    [Fact]
    public void Qk_norm_refuses_a_gamma_that_is_not_one_head_wide()
    {
        var text = "graph g(%x: f32[T,128]) -> (%y)\n  %gq = param {name=q, fan_in=-1} : f32[32]\n  %gk = param {name=k, fan_in=-1} : f32[16]\n  %y = qk_norm %x, %gq, %gk {heads=2, kv_heads=1, eps=1e-6}\n";

        var ex = Assert.Throws<CompileException>(() => ShapeInference.Run(IrParser.Parse(text)));

        Assert.Contains("key γ and head dim", ex.Message);
    }

    [Fact]
    public void Sample_is_the_graphs_last_op_a_kernel_of_its_own_and_the_emitted_sampler_has_the_vocabulary_as_a_constant()
    {
        var compiled = ModelCompiler.Compile(Make());
        var graph = IrPrinter.Print(compiled.Graph);
        var plan = Plan.PlanPrinter.Print(compiled.Plan);

        Assert.StartsWith("graph Lm(%ids: i32[T]) -> (%logits, %next)", graph, System.StringComparison.Ordinal);
        Assert.Contains("%logits = linear %x_out, %lm_head : f32[T,4096]\n  %next = sample %logits : i32[1]\n", graph, System.StringComparison.Ordinal);
        var sample = compiled.Plan.Kernels[^1];
        Assert.Equal(("sample", IterationSpace.VocabRow), (sample.Name, sample.Space));
        Assert.Contains($"  k{sample.Index} sample     [sample]", plan, System.StringComparison.Ordinal);
        Assert.Contains("per generated token: one row of logits, options at run time", plan, System.StringComparison.Ordinal);
        Assert.Contains($"not fused: %next = sample into k{sample.Index - 1} — sampling reads the last token's whole row of logits", plan, System.StringComparison.Ordinal);

        // One public entry over a nested class: the vocabulary is a constant, the options are arguments.
        Assert.Contains("public int Sample(global::System.ReadOnlySpan<float> logits, global::Wudao.Models.Sampling sampling, int step)", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("int next = Sampler4096.Next(logits.Slice(logits.Length - 4096), sampling, step);", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains($"Interlocked.Add(ref KernelTicks[{sample.Index}]", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("private static class Sampler4096", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("private const int Vocab = 4096;", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("for (; i < 4096; i += 8)", compiled.Source, System.StringComparison.Ordinal);
        Assert.Contains("global::Wudao.CounterRng.Uniform(seed.Lo, seed.Hi, step, 0) * mass", compiled.Source, System.StringComparison.Ordinal);

        // A step runs every kernel but the sampler.
        Assert.DoesNotContain($"// k{sample.Index} sample", compiled.Source, System.StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("graph g(%l: f32[T,V]) -> (%n)\n  %n = sample %l\n", "vocabulary must be a compile-time constant")]
    [InlineData("graph g(%l: f32[16]) -> (%n)\n  %n = sample %l\n", "operand 0 must have rank 2")]
    [InlineData("graph g(%l: i32[T,16]) -> (%n)\n  %n = sample %l\n", "operand 0 must be f32 activations")]
    public void Sample_refuses_logits_it_cannot_compile(string text, string message)
    {
        var ex = Assert.Throws<CompileException>(() => ShapeInference.Run(IrParser.Parse(text)));

        Assert.Contains(message, ex.Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Sample_types_the_last_rows_token_as_one_int()
    {
        var graph = IrParser.Parse("graph g(%l: f32[T,16]) -> (%n)\n  %n = sample %l\n");
        ShapeInference.Run(graph);

        Assert.Equal("i32[1]", graph.Nodes[0].Types[0]!.ToString());
    }
}
