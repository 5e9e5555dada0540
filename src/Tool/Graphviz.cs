using System;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace Wudao.Tool;

/// <summary>Graphviz's <c>dot</c>, found on the search path and run as a filter from DOT text to a picture.</summary>
public static class Graphviz
{
    public const string Missing = "Graphviz's `dot` is not installed (Debian: apt-get install graphviz); use --format dot";

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    /// <summary>The full path of <c>dot</c> in one of <paramref name="searchPath"/>'s folders, or null.</summary>
    public static string? Find(string searchPath)
    {
        var names = OperatingSystem.IsWindows() ? new[] { "dot.exe" } : new[] { "dot" };
        return searchPath.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => names.Select(n => Path.Combine(dir, n)))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>Renders <paramref name="dotText"/> with <c>dot -T<paramref name="format"/></c>; throws a <see cref="ToolException"/> when dot is missing or fails.</summary>
    public static string Render(string dotText, string format, string searchPath)
    {
        var dot = Find(searchPath) ?? throw new ToolException(Missing);
        var start = new ProcessStartInfo(dot)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-T" + format);

        using var process = Process.Start(start) ?? throw new ToolException($"could not start {dot}");

        // Read both streams while writing: a large picture would otherwise fill a pipe and stall dot.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(dotText);
        process.StandardInput.Close();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            throw new ToolException($"{dot} ran past {Limit.TotalMinutes} minutes");
        }

        process.WaitForExit();
        return process.ExitCode == 0
            ? output.GetAwaiter().GetResult()
            : throw new ToolException($"{dot} -T{format} failed (exit {process.ExitCode}): {error.GetAwaiter().GetResult().Trim()}");
    }
}
