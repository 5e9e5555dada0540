using System;
using System.IO;
using Wudao.Tool;

namespace Wudao.Tool.Tests;

/// <summary>One in-process run of the tool: its exit status and what it wrote to each stream.</summary>
internal sealed record ToolRun(int ExitCode, string Out, string Error)
{
    public static ToolRun Of(params string[] args) => With(null, args);

    /// <summary>Runs with <paramref name="searchPath"/> as the folders searched for Graphviz (null: this process's PATH).</summary>
    public static ToolRun With(string? searchPath, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = ToolConsole.Of(output, error);
        if (searchPath != null)
        {
            console = console with { SearchPath = searchPath };
        }

        var code = Cli.Run(args, console);
        return new ToolRun(code, output.ToString(), error.ToString());
    }

    public override string ToString() => $"exit {ExitCode}\n--- out ---\n{Out}\n--- error ---\n{Error}";
}
