using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>The plan as a DOT picture: every op drawn once, one cluster per kernel holding exactly its ops, valid DOT text.</summary>
public class PlanDotTests
{
    private static readonly CompiledLayer Layer = MoeCompiler.Compile(TestSpecs.Make(RouterKind.GShard, dim: 512, experts: 16, hidden: 64));

    [Fact]
    public void Every_graph_node_is_declared_once_with_its_op()
    {
        var dot = PlanDot.Print(Layer.Plan);

        for (var i = 0; i < Layer.Graph.Nodes.Count; i++)
        {
            var node = Layer.Graph.Nodes[i];
            var declarations = Regex.Matches(dot, $"^\\s*\"n{i}\" \\[", RegexOptions.Multiline);
            Assert.Single(declarations);
            var line = dot.Split('\n').Single(l => l.TrimStart().StartsWith($"\"n{i}\" [", System.StringComparison.Ordinal));
            Assert.Contains(node.Op == "param" ? node.Attr("name")! : $"= {node.Op}", line, System.StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Clusters_match_the_plan_kernels()
    {
        var clusters = Clusters(PlanDot.Print(Layer.Plan));

        Assert.Equal(Layer.Plan.Kernels.Count, clusters.Count);
        foreach (var k in Layer.Plan.Kernels)
        {
            var (label, nodes) = clusters["cluster_k" + k.Index];
            Assert.Equal($"k{k.Index} {k.Name}", label);
            var expected = k.Nodes.Select(n => "n" + IndexOf(n)).ToList();
            Assert.Equal(expected, nodes);
        }

        Assert.Equal("k0 gate", clusters["cluster_k0"].Label);
    }

    [Fact]
    public void Inputs_weights_and_outputs_have_shapes_of_their_own_and_edges_follow_data_flow()
    {
        var dot = PlanDot.Print(Layer.Plan);

        Assert.Matches("\"in_x\" \\[shape=invhouse.*label=\"%x\\\\nf32\\[T,512\\]\"", dot);
        Assert.Matches("\\[shape=cylinder.*label=\"gate.weight\\\\nf32\\[512,16\\]\"", dot);
        Assert.Matches("\"out_out\" \\[shape=house", dot);
        // x feeds the gate's matmul; %rows crosses from dispatch to the expert kernel, so it is bold and named.
        var matmul = "n" + IndexOf(Layer.Graph.Nodes.First(n => n.Op == "matmul"));
        Assert.Contains($"\"in_x\" -> \"{matmul}\"", dot, System.StringComparison.Ordinal);
        var dispatch = "n" + IndexOf(Layer.Graph.Nodes.First(n => n.Op == "dispatch"));
        var up = "n" + IndexOf(Layer.Graph.Nodes.First(n => n.Op == "grouped_matmul"));
        Assert.Contains($"\"{dispatch}\" -> \"{up}\" [penwidth=2, label=\"%rows\"];", dot, System.StringComparison.Ordinal);
        // %probs is materialized (the route reads it) but softmax → topk stays inside the gate kernel: thin.
        var softmax = "n" + IndexOf(Layer.Graph.Nodes.First(n => n.Op == "softmax"));
        var topk = "n" + IndexOf(Layer.Graph.Nodes.First(n => n.Op == "topk"));
        Assert.Contains($"\"{softmax}\" -> \"{topk}\";", dot, System.StringComparison.Ordinal);
        var edges = Regex.Matches(dot, " -> ").Count;
        Assert.Equal(Layer.Graph.Nodes.Sum(n => n.Operands.Distinct().Count()) + Layer.Graph.Outputs.Count, edges);
    }

    [Fact]
    public void Output_is_well_formed_DOT()
    {
        AssertWellFormed(PlanDot.Print(Layer.Plan));
        var model = ModelCompiler.Compile(new ModelSpec("N", "Lm", "public", 512, 128, 2, 256, NormKind.RmsNorm, 1e-5f, 4, 2, true, PositionKind.Rope, 10000f,
            TestSpecs.Make(RouterKind.TopK, ActivationKind.SwiGlu, dim: 128, experts: 4, hidden: 64, capacityFactor: 0f) with { ClassName = "LmMoe" }, 1, 64));
        AssertWellFormed(PlanDot.Print(model.Plan));
    }

    [Fact]
    public void Quoting_escapes_quotes_backslashes_and_line_breaks()
    {
        Assert.Equal("\"a\\\"b\\\\c\\nd\"", PlanDot.Quote("a\"b\\c\nd"));
        AssertWellFormed("digraph " + PlanDot.Quote("x\"}{") + " {\n}\n");
    }

    [Fact]
    public void The_checker_rejects_unbalanced_text()
    {
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertWellFormed("digraph g {\n  \"a\" -> \"b\";\n"));
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AssertWellFormed("digraph g {\n  \"a -> b;\n}\n"));
    }

    private static int IndexOf(Wudao.Compiler.Ir.Node node) => Layer.Graph.Nodes.ToList().IndexOf(node);

    /// <summary>Braces balance outside quoted strings, every string closes, and the text is one <c>digraph</c>.</summary>
    private static void AssertWellFormed(string dot)
    {
        Assert.StartsWith("digraph ", dot, System.StringComparison.Ordinal);
        var depth = 0;
        var quoted = false;
        for (var i = 0; i < dot.Length; i++)
        {
            var c = dot[i];
            if (quoted)
            {
                Assert.NotEqual('\n', c);
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }

                continue;
            }

            if (c == '"')
            {
                quoted = true;
            }
            else if (c == '{')
            {
                depth++;
            }
            else if (c == '}')
            {
                depth--;
                Assert.True(depth >= 0, $"unbalanced '}}' at {i}");
                if (depth == 0)
                {
                    Assert.Equal("", dot.Substring(i + 1).Trim());
                }
            }
        }

        Assert.False(quoted, "a quoted string is not closed");
        Assert.Equal(0, depth);
    }

    /// <summary>Each cluster's label and the node ids declared inside it, in order.</summary>
    private static Dictionary<string, (string Label, List<string> Nodes)> Clusters(string dot)
    {
        var clusters = new Dictionary<string, (string, List<string>)>();
        foreach (Match m in Regex.Matches(dot, "subgraph \"(cluster_k\\d+)\" \\{\\n(.*?)\\n  \\}", RegexOptions.Singleline))
        {
            var body = m.Groups[2].Value;
            var label = Regex.Match(body, "label=\"([^\"]*)\";").Groups[1].Value;
            var nodes = Regex.Matches(body, "^    \"(n\\d+)\" \\[", RegexOptions.Multiline).Select(n => n.Groups[1].Value).ToList();
            clusters[m.Groups[1].Value] = (label, nodes);
        }

        return clusters;
    }
}
