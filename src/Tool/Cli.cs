using System;
using System.CommandLine;
using System.CommandLine.Help;
using System.IO;
using Wudao.Tool.Commands;

namespace Wudao.Tool;

/// <summary>
/// The <c>wudao</c> command line: <c>plan</c>, <c>graph</c> and <c>inspect</c>, each with
/// <c>--help</c>, and <c>--version</c>. <see cref="Run(string[], TextWriter, TextWriter)"/> runs it
/// in-process with given writers and returns the exit status (<see cref="ExitCodes"/>).
/// </summary>
public static class Cli
{
    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, ToolConsole.Of(output, error));

    public static int Run(string[] args, ToolConsole console)
    {
        // A plain command named as the tool is installed, not RootCommand: that one takes the host
        // executable's name, which is `testhost` in tests and `Wudao.Tool` under `dotnet run`.
        var root = new Command(
            "wudao",
            "Wudao's command-line tool: plans of MoE declarations, their graphs as pictures, safetensors checks.\n"
            + "Exit status: 0 success; 1 the input has errors (WD diagnostics, a malformed checkpoint); 2 the input could not be used.")
        {
            new HelpOption(),
            new VersionOption { Action = new PrintVersion() },
            PlanCommand.Create(console),
            GraphCommand.Create(console),
            InspectCommand.Create(console),
        };

        var parsed = root.Parse(args);
        var status = parsed.Invoke(new InvocationConfiguration { Output = console.Out, Error = console.Error });

        // The parser's own failures (unknown option, missing argument) are usage errors, like a missing path.
        return parsed.Errors.Count > 0 ? ExitCodes.Unusable : status;
    }

    /// <summary>Runs a command's body: a <see cref="ToolException"/> becomes its message and exit status.</summary>
    internal static int Guarded(ToolConsole console, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (ToolException e)
        {
            console.Error.WriteLine("wudao: " + e.Message);
            return e.ExitCode;
        }
    }
}
