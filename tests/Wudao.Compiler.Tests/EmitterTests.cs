using System.Linq;
using System.Text.RegularExpressions;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

public class EmitterTests
{
    private static readonly CompiledLayer Layer = MoeCompiler.Compile(TestSpecs.Make(RouterKind.GShard, ActivationKind.Gelu, dim: 512, experts: 16, hidden: 1024));

    [Theory]
    [InlineData("public const int D = 512;")]
    [InlineData("public const int E = 16;")]
    [InlineData("public const int K = 2;")]
    [InlineData("public const int H = 1024;")]
    [InlineData("public const int H1 = 1024;")]
    [InlineData("public const int TM = 8;")]
    [InlineData("public const int HC = 64;")]
    [InlineData("public const int Meta_kept = 0;")]
    [InlineData("public const int Meta_dropped = 16;")]
    [InlineData("public const int Meta_offsets = 17;")]
    [InlineData("public const int Meta_aux = 35;")]
    [InlineData("public const int PartialsAt = 36;")]
    [InlineData("public const int PartialsLength = 1 + K * E + 1 + E;")]
    [InlineData("public const int MetaLength = 36 + PartialsLength;")]
    [InlineData("namespace N;")]
    [InlineData("public partial class L : global::Wudao.IMoeLayer")]
    [InlineData("global::Wudao.Activation.Gelu, global::Wudao.RouterKind.GShard, 1.25f, 0.01f,")]
    public void Source_holds_the_compile_time_constants(string line)
    {
        Assert.Contains(line, Layer.Source);
    }

    [Fact]
    public void One_kernel_entry_per_planned_kernel()
    {
        var entries = Regex.Matches(Layer.Source, @"\[global::Wudao\.KernelEntry\((\d+), ""(\w+)"", (true|false)\)\]")
            .Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value} {m.Groups[3].Value}");

        Assert.Equal(new[] { "0 gate false", "1 route true", "2 dispatch false", "3 expert_ffn true", "4 combine false" }, entries);
        Assert.Equal(new[] { "K0Gate", "K1Route", "K2Dispatch", "K3ExpertFfn", "K4Combine" }, Layer.Kernels.Select(k => k.Method));
        Assert.All(Layer.Kernels, k => Assert.Contains($"public static void {k.Method}(", Layer.Source));
    }

    [Fact]
    public void Kernel_constants_do_not_depend_on_the_token_count()
    {
        var constants = Regex.Matches(Layer.Source, @"public const int (\w+) = ").Select(m => m.Groups[1].Value).ToList();

        Assert.DoesNotContain("T", constants);
        Assert.DoesNotContain("S", constants);
        Assert.Contains("int tokens = args.Tokens;", Layer.Source);
        Assert.Contains("int t = global::Wudao.MoeLayerRuntime.Tokens(x, Info);", Layer.Source);
        Assert.Contains("_k2(t * Kernels.K * Kernels.D, ", Layer.Source);
        Assert.Contains("_k3(new global::ILGPU.KernelConfig(((t * Kernels.K) + Kernels.TM - 1) / Kernels.TM + Kernels.E, _group), ", Layer.Source);
        Assert.Contains("var v_rows = scope.F32((long)t * Kernels.K * 512);", Layer.Source);
    }

    [Fact]
    public void Compilation_is_deterministic()
    {
        var again = MoeCompiler.Compile(TestSpecs.Make(RouterKind.GShard, ActivationKind.Gelu, dim: 512, experts: 16, hidden: 1024));

        Assert.Equal(Layer.Source, again.Source);
    }

    [Fact]
    public void Source_embeds_graph_and_plan_text()
    {
        Assert.Contains(IrPrinter.Print(Layer.Graph), Layer.Source);
        Assert.Contains(Layer.Plan.ToString(), Layer.Source);
    }

    [Fact]
    public void Global_namespace_emits_no_namespace_line()
    {
        var source = MoeCompiler.Compile(TestSpecs.Make(ns: "")).Source;

        Assert.DoesNotContain("namespace ", source);
    }

    [Fact]
    public void SwiGlu_multiplies_silu_gate_by_up_half()
    {
        var source = MoeCompiler.Compile(TestSpecs.Make(RouterKind.TopK, ActivationKind.SwiGlu, hidden: 96)).Source;

        Assert.Contains("v = DeviceSilu(a) * u;", source);
        Assert.Contains("public const int H = 96;", source);
        Assert.Contains("public const int H1 = 192;", source);
    }

    [Theory]
    [InlineData(ActivationKind.Gelu, "v = DeviceGelu(a);")]
    [InlineData(ActivationKind.Relu, "v = DeviceRelu(a);")]
    [InlineData(ActivationKind.Silu, "v = DeviceSilu(a);")]
    public void Activation_is_applied_in_the_fused_mlp(ActivationKind activation, string call)
    {
        var source = MoeCompiler.Compile(TestSpecs.Make(activation: activation)).Source;

        Assert.Contains(call, source);
        Assert.DoesNotContain("* u;", source);
    }

    [Theory]
    [InlineData(RouterKind.GShard, true, true)]
    [InlineData(RouterKind.TopK, true, false)]
    [InlineData(RouterKind.Switch, false, false)]
    public void Gate_kernel_holds_the_router_steps(RouterKind router, bool renorm, bool secondDrop)
    {
        var gate = Assert.IsType<GateKernel>(MoeCompiler.Compile(TestSpecs.Make(router)).Kernels[0].Reading);

        Assert.Equal(renorm, gate.TokenBody.Contains("= renorm %top_w:"));
        Assert.Equal(secondDrop, gate.TokenBody.Contains("= second_drop %gates, %top_e:"));
        Assert.Equal(secondDrop, gate.TokenBody.Contains("CounterRng.Uniform"));
    }

    [Fact]
    public void Expert_kernel_without_second_gemm_has_no_template()
    {
        var plan = PassPipeline.Run(IrParser.Parse(
            "graph g(%x: f32[T,64], %e: i32[T,2], %s: i32[T,2], %o: i32[9]) -> (%a)\n" +
            "  %w1 = param {name=experts.w1, fan_in=64} : f32[8,64,128]\n" +
            "  %b1 = param {name=experts.b1, fan_in=64} : f32[8,128]\n" +
            "  %rows = dispatch %x, %e, %s, %o\n" +
            "  %h = grouped_matmul %rows, %w1, %o\n" +
            "  %hb = bias %h, %b1, %o\n" +
            "  %a = gelu %hb\n"));

        var ex = Assert.Throws<KernelAssemblyException>(() => IlgpuKernelEmitter.Emit(plan));

        Assert.Equal("k1 expert_ffn: the fused MLP needs its down grouped_matmul here, but the kernel ends [grouped_matmul, bias, gelu]", ex.Message);
    }

    [Fact]
    public void Gate_kernel_whose_logits_leave_it_is_refused_by_name()
    {
        var plan = PassPipeline.Run(IrParser.Parse(
            "graph g(%x: f32[T,64]) -> (%l)\n" +
            "  %wg = param {name=gate.weight, fan_in=64} : f32[64,8]\n" +
            "  %l = matmul %x, %wg\n"));

        var ex = Assert.Throws<KernelAssemblyException>(() => IlgpuKernelEmitter.Emit(plan));

        Assert.Equal("k0: %l is read by another kernel, but the per-token gate keeps it in a scratch row", ex.Message);
    }

    [Fact]
    public void Gate_kernel_without_topk_writes_only_the_router_probabilities()
    {
        // Expert choice's gate: the experts choose later, in the route kernel.
        var plan = PassPipeline.Run(IrParser.Parse(
            "graph g(%x: f32[T,64]) -> (%p)\n" +
            "  %wg = param {name=gate.weight, fan_in=64} : f32[64,8]\n" +
            "  %l = matmul %x, %wg\n" +
            "  %p = softmax %l {axis=1}\n"));

        var gate = Assert.Single(IlgpuKernelEmitter.Emit(plan));

        Assert.Equal(new[] { "x", "w_wg", "probs", "args" }, gate.Parameters.Select(p => p.Name));
        Assert.DoesNotContain("topk", Assert.IsType<GateKernel>(gate.Reading).TokenBody);
    }

    [Fact]
    public void Value_kept_in_registers_cannot_leave_the_kernel()
    {
        var plan = PassPipeline.Run(IrParser.Parse(
            "graph g(%x: f32[T,64]) -> (%logits, %gates)\n" +
            "  %wg = param {name=gate.weight, fan_in=64} : f32[64,8]\n" +
            "  %logits = matmul %x, %wg\n" +
            "  %probs = softmax %logits {axis=1}\n" +
            "  %gates, %experts = topk %probs {k=2}\n"));

        var ex = Assert.Throws<KernelAssemblyException>(() => IlgpuKernelEmitter.Emit(plan));

        Assert.Equal("k0: %logits is read by another kernel, but the per-token gate keeps it in a scratch row", ex.Message);
    }
}
