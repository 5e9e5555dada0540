using System.Linq;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>The op registry: attribute checks, dtype-aware rules, formulas rendered per target, fused-MLP assembly.</summary>
public class RegistryTests
{
    private const string Header = "graph g(%x: f32[T,64]) -> (%p)\n";

    private static CompileException Reject(string text) =>
        Assert.Throws<CompileException>(() => PassPipeline.Run(IrParser.Parse(text)));

    [Fact]
    public void Unknown_attribute_is_refused_with_the_known_ones()
    {
        var ex = Reject(Header + "  %w = param {name=w, fan_in=64} : f32[64,8]\n  %l = matmul %x, %w\n  %p = softmax %l {axis=1, temperature=2}\n");

        Assert.Contains("%p = softmax: unknown attribute 'temperature' (known: axis)", ex.Message);
    }

    [Fact]
    public void Optional_attribute_is_accepted_and_a_flag_must_be_zero_or_one()
    {
        var ok = "graph g(%q: f32[T,96]) -> (%a)\n  %a = attention %q {heads=1, kv_heads=1, head_dim=32, causal=1, rope=0, rope_base=10000}\n";
        PassPipeline.Run(IrParser.Parse(ok));

        var ex = Reject(ok.Replace("causal=1", "causal=yes"));
        Assert.Contains("%a = attention: attribute 'causal' must be 0 or 1, got 'yes'", ex.Message);
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("f16")]
    [InlineData("i8")]
    public void Narrow_weights_type_check_with_f32_results(string dtype)
    {
        var graph = IrParser.Parse(Header + $"  %w = param {{name=w, fan_in=64}} : {dtype}[64,8]\n  %p = matmul %x, %w\n");

        ShapeInference.Run(graph);

        Assert.Equal("f32[T,8]", graph.Nodes[1].Types[0]!.ToString());
        Assert.Equal($"{dtype}[64,8]", graph.Nodes[0].Types[0]!.ToString());
        Assert.Contains($": {dtype}[64,8]", IrPrinter.Print(graph));
    }

    [Fact]
    public void Narrow_activations_are_refused()
    {
        var ex = Reject("graph g(%x: bf16[T,64]) -> (%p)\n  %w = param {name=w, fan_in=64} : f32[64,8]\n  %p = matmul %x, %w\n");

        Assert.Contains("%p = matmul: operand 0 must be f32 activations, got bf16[T,64]", ex.Message);
    }

    [Fact]
    public void Integer_weights_are_refused()
    {
        var ex = Reject(Header + "  %w = param {name=w, fan_in=64} : i32[64,8]\n  %p = matmul %x, %w\n");

        Assert.Contains("operand 1 must be a weight (f32, bf16, f16 or i8), got i32[64,8]", ex.Message);
    }

    [Fact]
    public void Every_activation_is_an_epilogue_op_with_its_definition()
    {
        foreach (var a in Activations.All)
        {
            var op = Ops.Get(a.Op);
            Assert.True(op.IsEpilogue);
            Assert.Same(a, op.Activation);
        }
    }

    [Fact]
    public void Gated_activation_halves_the_width_and_refuses_an_odd_one()
    {
        var graph = IrParser.Parse("graph g(%h: f32[S,20]) -> (%a)\n  %a = geglu %h\n");
        ShapeInference.Run(graph);
        Assert.Equal("f32[S,10]", graph.Nodes[0].Types[0]!.ToString());

        var ex = Reject("graph g(%h: f32[S,21]) -> (%a)\n  %a = geglu %h\n");
        Assert.Contains("%a = geglu: width 21 must be even (gate and up halves)", ex.Message);
    }

    [Fact]
    public void A_formula_renders_once_per_dialect_with_its_helpers_first()
    {
        var gelu = Activations.ByOp(Ops.GeGlu);

        Assert.Equal("DeviceGelu(a) * u", gelu.Render(MathDialect.Ilgpu, "a", "u"));
        Assert.Equal("GeluV512(x) * u", gelu.Render(MathDialect.Vector512, "x", "u"));
        var declared = Activations.Declarations(new[] { Ops.GeGlu, Ops.Gelu, Ops.Bias }, MathDialect.Native);
        Assert.True(declared.IndexOf("private static float Erf(float z)", System.StringComparison.Ordinal) < declared.IndexOf("private static float Gelu(float x)", System.StringComparison.Ordinal));
        Assert.Equal(1, declared.Split("private static float Gelu(").Length - 1);
        Assert.Contains("global::System.MathF.Exp", declared);
        Assert.Contains("global::System.Runtime.Intrinsics.Vector256.ConditionalSelect", Activations.Erf.Declare(MathDialect.Vector256));
        Assert.Contains("global::ILGPU.Algorithms.XMath.Exp", Activations.Erf.Declare(MathDialect.Ilgpu));
    }

    [Theory]
    [InlineData(ActivationKind.GeGlu, "v = DeviceGelu(a) * u;", "public const int H1 = 192;")]
    [InlineData(ActivationKind.SwiGlu, "v = DeviceSilu(a) * u;", "public const int H1 = 192;")]
    [InlineData(ActivationKind.Relu, "v = DeviceRelu(a);", "public const int H1 = 96;")]
    public void Expert_kernel_is_assembled_from_the_activations_fragment(ActivationKind activation, string device, string width)
    {
        var source = MoeCompiler.Compile(TestSpecs.Make(RouterKind.TopK, activation, hidden: 96)).Source;

        Assert.Contains(device, source);
        Assert.Contains(width, source);
        Assert.Contains("ActivateRow(ref hrow, ref hrow);", source);
    }

    [Fact]
    public void An_op_with_no_place_in_the_fused_mlp_is_named()
    {
        var plan = PassPipeline.Run(IrParser.Parse(
            "graph g(%x: f32[T,64], %e: i32[T,2], %s: i32[T,2], %o: i32[9]) -> (%y2)\n" +
            "  %w1 = param {name=experts.w1, fan_in=64} : f32[8,64,128]\n" +
            "  %w2 = param {name=experts.w2, fan_in=128} : f32[8,128,64]\n" +
            "  %rows = dispatch %x, %e, %s, %o\n" +
            "  %h = grouped_matmul %rows, %w1, %o\n" +
            "  %a = gelu %h\n" +
            "  %y = grouped_matmul %a, %w2, %o\n" +
            "  %y2 = relu %y\n"));

        var ex = Assert.Throws<KernelAssemblyException>(() => FusedMlp.From(plan.Kernels[1], plan));

        Assert.Equal("k1 expert_ffn: %y2 = relu has no place in the fused MLP: after the down GEMM only its bias may follow (activations go between the GEMMs)", ex.Message);
    }

    [Fact]
    public void A_fused_mlp_without_biases_assembles_and_starts_from_zero()
    {
        var plan = PassPipeline.Run(IrParser.Parse(
            "graph g(%x: f32[T,64], %e: i32[T,2], %s: i32[T,2], %o: i32[9]) -> (%y)\n" +
            "  %w1 = param {name=experts.w1, fan_in=64} : f32[8,64,128]\n" +
            "  %w2 = param {name=experts.w2, fan_in=64} : f32[8,64,64]\n" +
            "  %rows = dispatch %x, %e, %s, %o\n" +
            "  %h = grouped_matmul %rows, %w1, %o\n" +
            "  %a = swiglu %h\n" +
            "  %y = grouped_matmul %a, %w2, %o\n"));

        var mlp = FusedMlp.From(plan.Kernels[1], plan);
        var kernel = IlgpuKernelEmitter.Emit(plan)[1];

        Assert.Equal((64, 64, 128), (mlp.Dim, mlp.Hidden, mlp.HiddenIn));
        Assert.Null(mlp.UpBias);
        Assert.Equal(new[] { "rows", "w1", "w2", "meta", "y" }, kernel.Parameters.Select(p => p.Name));
        Assert.Contains("float a = 0f;", kernel.Body);
    }
}
