using System;
using System.IO;

namespace Wudao.Tool;

/// <summary>
/// Where the tool writes and what it may assume of its surroundings. Reports go to
/// <see cref="Out"/> as plain text, so they read the same redirected to a file; progress is drawn
/// on the error stream only when a person is watching it.
/// </summary>
/// <param name="Out">Reports: plans, graphs, tables.</param>
/// <param name="Error">Diagnostics, problems and progress.</param>
/// <param name="SearchPath">Folders searched for Graphviz's <c>dot</c>, as in <c>PATH</c>.</param>
/// <param name="Interactive">Whether <see cref="Error"/> is a terminal, so a progress spinner may be drawn on it.</param>
public sealed record ToolConsole(TextWriter Out, TextWriter Error, string SearchPath, bool Interactive)
{
    /// <summary>The process's own streams and <c>PATH</c>; progress only on a terminal that understands it.</summary>
    public static ToolConsole System() => new(
        Console.Out,
        Console.Error,
        Environment.GetEnvironmentVariable("PATH") ?? "",
        !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb");

    /// <summary>Given writers and the process's <c>PATH</c>, never interactive (tests, embedding).</summary>
    public static ToolConsole Of(TextWriter output, TextWriter error) =>
        new(output, error, Environment.GetEnvironmentVariable("PATH") ?? "", false);
}
