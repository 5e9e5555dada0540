using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;

namespace Wudao.Tool;

/// <summary>
/// <c>--version</c>: the tool's own version. The built-in action prints the entry assembly's,
/// which is the test host's when the tool runs in-process.
/// </summary>
public sealed class PrintVersion : SynchronousCommandLineAction
{
    public static string Version { get; } =
        typeof(PrintVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PrintVersion).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    public override int Invoke(ParseResult parseResult)
    {
        parseResult.InvocationConfiguration.Output.WriteLine(Version);
        return ExitCodes.Success;
    }
}
