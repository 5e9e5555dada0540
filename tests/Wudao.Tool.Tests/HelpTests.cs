using Xunit;

namespace Wudao.Tool.Tests;

/// <summary>Every command answers <c>--help</c> with its usage and options; the tool answers <c>--version</c>.</summary>
public class HelpTests
{
    [Theory]
    [InlineData("plan", "--tokens", "--class")]
    [InlineData("graph", "--format <dot|svg>", "--output")]
    [InlineData("inspect", "<path>", "safetensors")]
    public void Each_command_has_help(string command, string first, string second)
    {
        var run = ToolRun.Of(command, "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains($"wudao {command} <path>", run.Out, System.StringComparison.Ordinal);
        Assert.Contains(first, run.Out, System.StringComparison.Ordinal);
        Assert.Contains(second, run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void The_tool_lists_its_commands()
    {
        var run = ToolRun.Of("--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("wudao [command] [options]", run.Out, System.StringComparison.Ordinal);
        foreach (var command in new[] { "plan <path>", "graph <path>", "inspect <path>" })
        {
            Assert.Contains(command, run.Out, System.StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Version_is_the_package_version()
    {
        var run = ToolRun.Of("--version");

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("0.1.0", run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_command_is_a_usage_error()
    {
        var run = ToolRun.Of("cost", "x");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("cost", run.Error, System.StringComparison.Ordinal);
    }
}
