using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Xunit;

namespace Wudao.Compiler.Tests;

public class VerifierTests
{
    private const string Header = "graph g(%x: f32[T,64]) -> (%p)\n  %w = param {name=w, fan_in=64} : f32[64,8]\n";

    private static CompileException Reject(string body, bool requireTypes = false) =>
        Assert.Throws<CompileException>(() => Verifier.Verify(IrParser.Parse(Header + body), requireTypes));

    [Fact]
    public void Well_formed_untyped_graph_passes_without_types_required()
    {
        var graph = IrParser.Parse(Header + "  %l = matmul %x, %w\n  %p = softmax %l {axis=1}\n");

        Verifier.Verify(graph, requireTypes: false);
        var ex = Assert.Throws<CompileException>(() => Verifier.Verify(graph, requireTypes: true));

        Assert.Contains("%l = matmul: result type unknown after shape inference", ex.Message);
    }

    [Fact]
    public void Lowered_graph_verifies_before_and_after_inference()
    {
        var graph = MoeLowering.Lower(TestSpecs.Make());

        Verifier.Verify(graph, requireTypes: false);
        ShapeInference.Run(graph);
        Verifier.Verify(graph, requireTypes: true);

        Assert.All(graph.Nodes, n => Assert.All(n.Types, Assert.NotNull));
    }

    [Fact]
    public void Unknown_op_is_named()
    {
        var ex = Reject("  %l = matmul %x, %w\n  %p = softmaxx %l {axis=1}\n");

        Assert.Contains("%p: unknown op 'softmaxx'", ex.Message);
    }

    [Fact]
    public void Wrong_operand_count_is_named()
    {
        var ex = Reject("  %p = matmul %x\n");

        Assert.Contains("%p = matmul: takes 2 operands, got 1", ex.Message);
    }

    [Fact]
    public void Wrong_result_count_is_named()
    {
        var ex = Reject("  %l = matmul %x, %w\n  %p = topk %l {k=2}\n");

        Assert.Contains("%p = topk: has 2 results, got 1", ex.Message);
    }

    [Fact]
    public void Use_before_definition_names_the_operand()
    {
        var ex = Reject("  %p = softmax %l {axis=1}\n  %l = matmul %x, %w\n");

        Assert.Contains("%p = softmax: operand %l is not defined before use", ex.Message);
    }

    [Fact]
    public void Value_defined_twice_is_named()
    {
        var ex = Reject("  %p = matmul %x, %w\n  %p = softmax %p {axis=1}\n");

        Assert.Contains("%p is defined twice", ex.Message);
    }

    [Fact]
    public void Node_result_shadowing_an_input_is_defined_twice()
    {
        var ex = Reject("  %x = relu %x\n  %p = matmul %x, %w\n");

        Assert.Contains("%x is defined twice", ex.Message);
    }

    [Fact]
    public void Input_declared_twice_is_named()
    {
        var ex = Assert.Throws<CompileException>(() => Verifier.Verify(IrParser.Parse("graph g(%x: f32[T,4], %x: f32[T,4]) -> (%x)\n"), false));

        Assert.Contains("input %x is declared twice", ex.Message);
    }

    [Fact]
    public void Topk_without_k_is_missing_an_attribute()
    {
        var ex = Reject("  %l = matmul %x, %w\n  %tw, %te = topk %l\n");

        Assert.Contains("%tw = topk: missing attribute 'k'", ex.Message);
    }

    [Fact]
    public void Param_without_fan_in_is_missing_an_attribute()
    {
        var ex = Reject("  %w2 = param {name=w2} : f32[8,8]\n  %p = matmul %x, %w\n");

        Assert.Contains("%w2 = param: missing attribute 'fan_in'", ex.Message);
    }

    [Fact]
    public void Param_without_type_is_rejected()
    {
        var ex = Reject("  %w2 = param {name=w2, fan_in=8}\n  %p = matmul %x, %w\n");

        Assert.Contains("%w2 = param needs an explicit type", ex.Message);
    }

    [Fact]
    public void Undefined_graph_output_is_named()
    {
        var graph = IrParser.Parse("graph g(%x: f32[T,64]) -> (%p, %missing)\n  %w = param {name=w, fan_in=64} : f32[64,8]\n  %p = matmul %x, %w\n");

        var ex = Assert.Throws<CompileException>(() => Verifier.Verify(graph, false));

        Assert.Contains("graph output %missing is never defined", ex.Message);
    }

    [Fact]
    public void Pipeline_runs_the_verifier_first()
    {
        var graph = IrParser.Parse(Header + "  %p = softmax %l {axis=1}\n");

        var ex = Assert.Throws<CompileException>(() => PassPipeline.Run(graph));

        Assert.Contains("operand %l is not defined before use", ex.Message);
    }
}
