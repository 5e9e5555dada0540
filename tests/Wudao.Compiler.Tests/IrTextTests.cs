using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

public class IrTextTests
{
    public static TheoryData<RouterKind, ActivationKind> Specs => new()
    {
        { RouterKind.TopK, ActivationKind.Gelu },
        { RouterKind.Switch, ActivationKind.Relu },
        { RouterKind.GShard, ActivationKind.Silu },
        { RouterKind.GShard, ActivationKind.SwiGlu },
        { RouterKind.TopK, ActivationKind.SwiGlu },
        { RouterKind.Switch, ActivationKind.Gelu },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Lowered_graph_round_trips_through_text(RouterKind router, ActivationKind activation)
    {
        var graph = MoeLowering.Lower(TestSpecs.Make(router, activation));
        var text = IrPrinter.Print(graph);

        var reparsed = IrParser.Parse(text);

        Assert.Equal(text, IrPrinter.Print(reparsed));
        Assert.Equal("L", reparsed.Name);
        Assert.Equal(new[] { "out", "kept", "dropped", "aux", "nonfinite" }, reparsed.Outputs);
        Assert.Equal(graph.Nodes.Select(n => n.Op), reparsed.Nodes.Select(n => n.Op));
        Assert.Contains($"= {TestSpecs.ActivationOp(activation)} %hb", text);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Typed_graph_round_trips_through_text(RouterKind router, ActivationKind activation)
    {
        var graph = MoeLowering.Lower(TestSpecs.Make(router, activation, auxLossWeight: 1e-5f));
        Assert.True(ShapeInference.Run(graph));
        var text = IrPrinter.Print(graph);

        var reparsed = IrParser.Parse(text);

        Assert.Equal(text, IrPrinter.Print(reparsed));
        Assert.All(reparsed.Nodes, n => Assert.All(n.Types, Assert.NotNull));
        Assert.Contains("{alpha=1E-05}", text);
        Assert.False(ShapeInference.Run(reparsed));
    }

    [Fact]
    public void Lowered_gshard_graph_prints_the_expected_text()
    {
        var text = IrPrinter.Print(MoeLowering.Lower(TestSpecs.Make(RouterKind.GShard, dim: 4, experts: 3, hidden: 5)));

        const string expected =
            "graph L(%x: f32[T,4]) -> (%out, %kept, %dropped, %aux, %nonfinite)\n" +
            "  %wg = param {name=gate.weight, fan_in=4} : f32[4,3]\n" +
            "  %w1 = param {name=experts.w1, fan_in=4} : f32[3,4,5]\n" +
            "  %b1 = param {name=experts.b1, fan_in=4} : f32[3,5]\n" +
            "  %w2 = param {name=experts.w2, fan_in=5} : f32[3,5,4]\n" +
            "  %b2 = param {name=experts.b2, fan_in=5} : f32[3,4]\n" +
            "  %logits = matmul %x, %wg\n" +
            "  %probs = softmax %logits {axis=1}\n" +
            "  %top_w, %top_e = topk %probs {k=2}\n" +
            "  %gates = renorm %top_w\n" +
            "  %experts = second_drop %gates, %top_e\n" +
            "  %slots, %kept, %dropped = capacity %experts {experts=3, factor=1.25}\n" +
            "  %offsets = scan %kept\n" +
            "  %nonfinite = nonfinite %x\n" +
            "  %aux = aux_loss %probs, %experts {alpha=0.01}\n" +
            "  %rows = dispatch %x, %experts, %slots, %offsets\n" +
            "  %h = grouped_matmul %rows, %w1, %offsets\n" +
            "  %hb = bias %h, %b1, %offsets\n" +
            "  %a = gelu %hb\n" +
            "  %y0 = grouped_matmul %a, %w2, %offsets\n" +
            "  %y = bias %y0, %b2, %offsets\n" +
            "  %out = combine %y, %experts, %gates, %slots, %offsets\n";
        Assert.Equal(expected, text);
    }

    [Theory]
    [InlineData("a \"quoted\" value with spaces")]
    [InlineData("C:\\dir\\file")]
    [InlineData("")]
    [InlineData("x, y} # not a comment")]
    [InlineData(".5")]
    [InlineData("trailing\\")]
    [InlineData("two\nlines\r")]
    public void Attribute_values_with_quotes_and_spaces_round_trip(string value)
    {
        var node = new Node(Ops.Relu, new[] { "r" }, new[] { "x" }, new[] { new KeyValuePair<string, string>("note", value), new KeyValuePair<string, string>("n", "3") });
        var graph = new Graph("g", new[] { new KeyValuePair<string, TensorType>("x", TensorType.F32(Dim.Sym("T"), 4)) }, new[] { node }, new[] { "r" });
        var text = IrPrinter.Print(graph);

        var reparsed = IrParser.Parse(text);

        Assert.Equal(value, reparsed.Nodes[0].Attr("note"));
        Assert.Equal("3", reparsed.Nodes[0].Attr("n"));
        Assert.Equal(text, IrPrinter.Print(reparsed));
    }

    [Fact]
    public void Parser_accepts_comments_blank_lines_and_scalar_types()
    {
        const string text = "# a comment\n\ngraph g(%x: i32[T,2]) -> (%k, %d)  # trailing\n  %s, %k, %d = capacity %x {experts=4, factor=0} : i32[T,2], i32[4], i32[]\n";

        var graph = IrParser.Parse(text);

        Assert.Equal("g", graph.Name);
        var node = Assert.Single(graph.Nodes);
        Assert.Equal(new[] { "s", "k", "d" }, node.Results);
        Assert.Equal(TensorType.I32(), node.Types[2]);
        Assert.Equal(TensorType.I32(4), node.Types[1]);
        Assert.Equal(TensorType.I32(Dim.Sym("T"), 2), node.Types[0]);
    }

    [Fact]
    public void Dimension_too_large_for_32_bits_names_line_and_column()
    {
        const string text = "graph g(%x: f32[T,99999999999]) -> (%x)\n";

        var ex = Assert.Throws<CompileException>(() => IrParser.Parse(text));

        Assert.StartsWith("IR line 1, column", ex.Message);
        Assert.Contains("does not fit in 32 bits", ex.Message);
    }

    [Fact]
    public void Unknown_element_type_names_line_and_column()
    {
        const string text = "graph g(%x: f32[T,4]) -> (%y)\n  %w = param {name=w, fan_in=4} : f32[4,4]\n  %y = matmul %x, %w : f64[T,4]\n";

        var ex = Assert.Throws<CompileException>(() => IrParser.Parse(text));

        // The column is where the parser stopped: just after the bad element type.
        Assert.StartsWith("IR line 3, column 27: unknown element type 'f64'", ex.Message);
    }

    [Fact]
    public void Missing_equals_names_line_and_column()
    {
        const string text = "graph g(%x: f32[T,4]) -> (%y)\n  %y relu %x\n";

        var ex = Assert.Throws<CompileException>(() => IrParser.Parse(text));

        Assert.StartsWith("IR line 2, column 6: expected '='", ex.Message);
    }

    [Fact]
    public void Unterminated_string_names_line_and_column()
    {
        const string line = "  %y = relu %x {note=\"open}";
        var text = "graph g(%x: f32[T,4]) -> (%y)\n" + line + "\n";

        var ex = Assert.Throws<CompileException>(() => IrParser.Parse(text));

        Assert.StartsWith($"IR line 2, column {line.Length + 1}: unterminated string", ex.Message);
    }

    [Fact]
    public void Text_without_graph_header_is_rejected()
    {
        var empty = Assert.Throws<CompileException>(() => IrParser.Parse("# only a comment\n\n"));
        Assert.Contains("no 'graph' header", empty.Message);

        var nodeFirst = Assert.Throws<CompileException>(() => IrParser.Parse("\n  %y = relu %x\n"));
        Assert.StartsWith("IR line 2, column 3: expected 'graph'", nodeFirst.Message);
    }

    [Fact]
    public void Type_count_must_match_result_count()
    {
        const string text = "graph g(%x: f32[T,4]) -> (%v)\n  %v, %i = topk %x {k=1} : f32[T,1]\n";

        var ex = Assert.Throws<CompileException>(() => IrParser.Parse(text));

        Assert.Contains("IR line 2", ex.Message);
        Assert.Contains("2 results but 1 types", ex.Message);
    }

    [Fact]
    public void Trailing_text_after_a_node_is_rejected()
    {
        const string text = "graph g(%x: f32[T,4]) -> (%y)\n  %y = relu %x : f32[T,4] extra\n";

        var ex = Assert.Throws<CompileException>(() => IrParser.Parse(text));

        Assert.StartsWith("IR line 2, column 27: unexpected text", ex.Message);
    }
}
