using Wudao.Compiler.Ir;
using Wudao.Compiler.Passes;
using Xunit;

namespace Wudao.Compiler.Tests;

public class ShapeInferenceTests
{
    private static string Infer(string text)
    {
        var graph = IrParser.Parse(text);
        Verifier.Verify(graph, requireTypes: false);
        Assert.True(ShapeInference.Run(graph));
        Verifier.Verify(graph, requireTypes: true);
        return IrPrinter.Print(graph);
    }

    private static CompileException Reject(string text)
    {
        var graph = IrParser.Parse(text);
        Verifier.Verify(graph, requireTypes: false);
        return Assert.Throws<CompileException>(() => ShapeInference.Run(graph));
    }

    [Fact]
    public void Capacity_needs_at_least_one_expert()
    {
        var ex = Reject("graph g(%e: i32[T,2]) -> (%slots)\n  %slots, %kept, %dropped = capacity %e {experts=-1, factor=1}\n");

        Assert.Contains("%slots = capacity: experts=-1 must be at least 1", ex.Message);
    }

    [Fact]
    public void Router_ops_get_their_types()
    {
        const string input =
            "graph g(%x: f32[T,16]) -> (%experts, %aux)\n" +
            "  %wg = param {name=gate.weight, fan_in=16} : f32[16,6]\n" +
            "  %logits = matmul %x, %wg\n" +
            "  %probs = softmax %logits {axis=1}\n" +
            "  %top_w, %top_e = topk %probs {k=2}\n" +
            "  %gates = renorm %top_w\n" +
            "  %experts = second_drop %gates, %top_e\n" +
            "  %slots, %kept, %dropped = capacity %experts {experts=6, factor=1.25}\n" +
            "  %offsets = scan %kept\n" +
            "  %aux = aux_loss %probs, %experts {alpha=0.01}\n";
        const string expected =
            "graph g(%x: f32[T,16]) -> (%experts, %aux)\n" +
            "  %wg = param {name=gate.weight, fan_in=16} : f32[16,6]\n" +
            "  %logits = matmul %x, %wg : f32[T,6]\n" +
            "  %probs = softmax %logits {axis=1} : f32[T,6]\n" +
            "  %top_w, %top_e = topk %probs {k=2} : f32[T,2], i32[T,2]\n" +
            "  %gates = renorm %top_w : f32[T,2]\n" +
            "  %experts = second_drop %gates, %top_e : i32[T,2]\n" +
            "  %slots, %kept, %dropped = capacity %experts {experts=6, factor=1.25} : i32[T,2], i32[6], i32[]\n" +
            "  %offsets = scan %kept : i32[7]\n" +
            "  %aux = aux_loss %probs, %experts {alpha=0.01} : f32[]\n";

        Assert.Equal(expected, Infer(input));
    }

    [Fact]
    public void Expert_ops_get_their_types()
    {
        const string input =
            "graph g(%x: f32[T,16], %experts: i32[T,2], %gates: f32[T,2], %slots: i32[T,2], %offsets: i32[5]) -> (%out)\n" +
            "  %w1 = param {name=experts.w1, fan_in=16} : f32[4,16,10]\n" +
            "  %b1 = param {name=experts.b1, fan_in=16} : f32[4,10]\n" +
            "  %w2 = param {name=experts.w2, fan_in=5} : f32[4,5,16]\n" +
            "  %rows = dispatch %x, %experts, %slots, %offsets\n" +
            "  %h = grouped_matmul %rows, %w1, %offsets\n" +
            "  %hb = bias %h, %b1, %offsets\n" +
            "  %a = swiglu %hb\n" +
            "  %y = grouped_matmul %a, %w2, %offsets\n" +
            "  %out = combine %y, %experts, %gates, %slots, %offsets\n";
        const string expected =
            "graph g(%x: f32[T,16], %experts: i32[T,2], %gates: f32[T,2], %slots: i32[T,2], %offsets: i32[5]) -> (%out)\n" +
            "  %w1 = param {name=experts.w1, fan_in=16} : f32[4,16,10]\n" +
            "  %b1 = param {name=experts.b1, fan_in=16} : f32[4,10]\n" +
            "  %w2 = param {name=experts.w2, fan_in=5} : f32[4,5,16]\n" +
            "  %rows = dispatch %x, %experts, %slots, %offsets : f32[S,16]\n" +
            "  %h = grouped_matmul %rows, %w1, %offsets : f32[S,10]\n" +
            "  %hb = bias %h, %b1, %offsets : f32[S,10]\n" +
            "  %a = swiglu %hb : f32[S,5]\n" +
            "  %y = grouped_matmul %a, %w2, %offsets : f32[S,16]\n" +
            "  %out = combine %y, %experts, %gates, %slots, %offsets : f32[T,16]\n";

        Assert.Equal(expected, Infer(input));
    }

    [Fact]
    public void Correct_declared_types_are_kept_and_untyped_ones_filled()
    {
        const string input =
            "graph g(%x: f32[T,8]) -> (%p)\n" +
            "  %w = param {name=w, fan_in=8} : f32[8,3]\n" +
            "  %l = matmul %x, %w : f32[T,3]\n" +
            "  %p = softmax %l {axis=1}\n";

        Assert.EndsWith("  %p = softmax %l {axis=1} : f32[T,3]\n", Infer(input));
    }

    [Fact]
    public void Run_returns_false_when_everything_is_already_typed()
    {
        var graph = IrParser.Parse(
            "graph g(%x: f32[T,8]) -> (%p)\n" +
            "  %w = param {name=w, fan_in=8} : f32[8,3]\n" +
            "  %l = matmul %x, %w : f32[T,3]\n" +
            "  %p = softmax %l {axis=1} : f32[T,3]\n");
        var before = IrPrinter.Print(graph);

        Assert.False(ShapeInference.Run(graph));
        Assert.Equal(before, IrPrinter.Print(graph));
    }

    [Fact]
    public void Matmul_inner_dimension_mismatch_is_rejected()
    {
        var ex = Reject("graph g(%x: f32[T,64]) -> (%l)\n  %w = param {name=w, fan_in=32} : f32[32,8]\n  %l = matmul %x, %w\n");

        Assert.Contains("%l = matmul: inner dimensions differ (64 vs 32)", ex.Message);
    }

    [Fact]
    public void Topk_with_k_above_expert_count_is_rejected()
    {
        var ex = Reject("graph g(%p: f32[T,8]) -> (%v)\n  %v, %i = topk %p {k=9}\n");

        Assert.Contains("%v = topk: k=9 must be in 1..8", ex.Message);
    }

    [Fact]
    public void Topk_with_non_integer_k_is_rejected()
    {
        // The verifier checks each attribute's kind before any rule reads it.
        var ex = Assert.Throws<CompileException>(() => Verifier.Verify(IrParser.Parse("graph g(%p: f32[T,8]) -> (%v)\n  %v, %i = topk %p {k=two}\n"), requireTypes: false));

        Assert.Contains("%v = topk: attribute 'k' must be an integer, got 'two'", ex.Message);
    }

    [Fact]
    public void Declared_type_disagreeing_with_inferred_type_is_rejected()
    {
        var ex = Reject("graph g(%x: f32[T,64]) -> (%l)\n  %w = param {name=w, fan_in=64} : f32[64,8]\n  %l = matmul %x, %w : f32[T,4]\n");

        Assert.Contains("%l = matmul: declared type f32[T,4] but the operands give f32[T,8]", ex.Message);
    }

    [Fact]
    public void Declared_element_type_disagreeing_is_rejected()
    {
        var ex = Reject("graph g(%p: f32[T,8]) -> (%v)\n  %v, %i = topk %p {k=2} : f32[T,2], f32[T,2]\n");

        Assert.Contains("%i = topk: declared type f32[T,2] but the operands give i32[T,2]", ex.Message);
    }

    [Fact]
    public void Swiglu_with_odd_width_is_rejected()
    {
        var ex = Reject("graph g(%h: f32[S,7]) -> (%a)\n  %a = swiglu %h\n");

        Assert.Contains("%a = swiglu: width 7 must be even", ex.Message);
    }

    [Fact]
    public void Softmax_over_tokens_is_rejected()
    {
        var ex = Reject("graph g(%l: f32[T,8]) -> (%p)\n  %p = softmax %l {axis=0}\n");

        Assert.Contains("%p = softmax: only axis=1", ex.Message);
    }

    [Fact]
    public void Symbolic_expert_count_is_rejected()
    {
        var ex = Reject("graph g(%p: f32[T,E]) -> (%v)\n  %v, %i = topk %p {k=1}\n");

        Assert.Contains("%v = topk: expert count must be a compile-time constant, got E", ex.Message);
    }

    [Fact]
    public void Second_drop_requires_two_choices()
    {
        var ex = Reject("graph g(%w: f32[T,3], %e: i32[T,3]) -> (%d)\n  %d = second_drop %w, %e\n");

        Assert.Contains("%d = second_drop: choices per token (second_drop is for top-2) differ (3 vs 2)", ex.Message);
    }

    [Fact]
    public void Wrong_rank_names_the_operand()
    {
        var ex = Reject("graph g(%x: f32[T,64], %w: f32[64]) -> (%l)\n  %l = matmul %x, %w\n");

        Assert.Contains("%l = matmul: operand 1 must have rank 2, got f32[64]", ex.Message);
    }
}
