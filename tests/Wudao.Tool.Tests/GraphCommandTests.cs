using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace Wudao.Tool.Tests;

/// <summary><c>wudao graph</c>: DOT always, SVG through Graphviz where it is installed, a clear message where it is not.</summary>
public class GraphCommandTests
{
    private static readonly string QuickStart = Repo.Path("examples", "QuickStart", "QuickStart.csproj");

    [Fact]
    public void Dot_has_a_cluster_per_kernel_and_every_op()
    {
        var run = ToolRun.Of("graph", QuickStart, "--format", "dot");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("digraph \"MyMoe\" {\n", run.Out, System.StringComparison.Ordinal);
        var clusters = Regex.Matches(run.Out, "label=\"(k\\d+ \\w+)\";").Select(m => m.Groups[1].Value);
        Assert.Equal(new[] { "k0 gate", "k1 route", "k2 dispatch", "k3 expert_ffn", "k4 combine" }, clusters);
        foreach (var op in new[] { "matmul", "softmax", "topk", "capacity", "dispatch", "grouped_matmul", "gelu", "combine" })
        {
            Assert.Contains($" = {op}\\n", run.Out, System.StringComparison.Ordinal);
        }

        Assert.EndsWith("}\n", run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Output_option_writes_the_file()
    {
        using var temp = new TempFolder();
        var file = temp.Path("moe.dot");

        var run = ToolRun.Of("graph", QuickStart, "-o", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Out);
        Assert.StartsWith("digraph \"MyMoe\"", File.ReadAllText(file), System.StringComparison.Ordinal);
    }

    [Fact]
    public void An_output_file_that_cannot_be_written_is_named()
    {
        using var temp = new TempFolder();
        var file = Path.Combine(temp.FullName, "no", "such", "folder", "moe.dot");

        var run = ToolRun.Of("graph", QuickStart, "--output", file);

        Assert.Equal(2, run.ExitCode);
        Assert.StartsWith($"wudao: cannot write {file}: ", run.Error, System.StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Svg_is_drawn_by_Graphviz()
    {
        Skip.If(Graphviz.Find(System.Environment.GetEnvironmentVariable("PATH") ?? "") == null,
            "Graphviz is not installed: dot is not on PATH (apt-get install graphviz; .ci/run installs it)");

        var run = ToolRun.Of("graph", QuickStart, "--format", "svg");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("<svg", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("<title>cluster_k3</title>", run.Out, System.StringComparison.Ordinal);
        Assert.Contains(">k3 expert_ffn</text>", run.Out, System.StringComparison.Ordinal);
        Assert.EndsWith("</svg>\n", run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Svg_without_Graphviz_says_how_to_install_it()
    {
        using var empty = new TempFolder();

        var run = ToolRun.With(empty.FullName, "graph", QuickStart, "--format", "svg");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("wudao: Graphviz's `dot` is not installed (Debian: apt-get install graphviz); use --format dot\n", run.Error);
        Assert.Equal("", run.Out);
    }

    [Fact]
    public void Several_declarations_need_a_class()
    {
        var run = ToolRun.Of("graph", Repo.Path("examples", "Routing"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("7 declarations found; draw one with --class (Routing.TopKMoe, ", run.Error, System.StringComparison.Ordinal);

        var one = ToolRun.Of("graph", Repo.Path("examples", "Routing"), "--class", "Routing.HashMoe");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.StartsWith("digraph \"HashMoe\"", one.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_is_drawn_with_its_moe_blocks_as_kernels()
    {
        var run = ToolRun.Of("graph", Repo.Path("examples", "TinyMoeLm"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("label=\"k11 moe\";", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("label=\"k2 attention\";", run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_format_is_refused()
    {
        var run = ToolRun.Of("graph", QuickStart, "--format", "png");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("png", run.Error, System.StringComparison.Ordinal);
    }
}
