using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using Xunit;

namespace Wudao.Tool.Tests;

/// <summary>
/// The tool as a user installs it: src/Tool packed into a folder feed, installed with
/// <c>dotnet tool install --add-source</c>, and the installed <c>wudao</c> run on the quick start.
/// </summary>
public class ToolPackageTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(5);

    [Fact]
    public void The_packed_tool_installs_and_plans_the_quick_start()
    {
        // A version no earlier run used, so no cached package can stand in for this one.
        var version = "0.1.0-t" + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        using var temp = new TempFolder();
        var feed = temp.Path("feed");
        var tools = temp.Path("tools");
        var work = temp.Path("work");
        Directory.CreateDirectory(feed);
        Directory.CreateDirectory(work);
        try
        {
            // The test project's build already built the tool in this configuration.
            Run(Repo.Root, Host(), "pack", Repo.Path("src", "Tool", "Wudao.Tool.csproj"), "-c", Configuration,
                "--no-build", "--no-restore", "-o", feed, "-p:PackageVersion=" + version);
            Assert.True(File.Exists(Path.Combine(feed, $"Wudao.Tool.{version}.nupkg")), "no package in " + feed);

            // Outside the repository, with the folder feed beside whatever sources this machine has.
            File.WriteAllText(Path.Combine(work, "nuget.config"),
                $"<configuration>\n  <packageSources>\n    <add key=\"wudao-tool-test\" value=\"{feed}\" />\n  </packageSources>\n</configuration>\n");
            Run(work, Host(), "tool", "install", "--tool-path", tools, "--add-source", feed, "Wudao.Tool", "--version", version);

            var wudao = Path.Combine(tools, OperatingSystem.IsWindows() ? "wudao.exe" : "wudao");
            var help = Run(work, wudao, "--help");
            Assert.Contains("wudao [command] [options]", help, StringComparison.Ordinal);
            Assert.Contains("plan <path>", help, StringComparison.Ordinal);

            var plan = Run(work, wudao, "plan", Repo.Path("examples", "QuickStart", "QuickStart.csproj"));
            Assert.Contains("MoeLayer QuickStart.MyMoe", plan, StringComparison.Ordinal);
            Assert.Matches(@"k3 expert_ffn \[grouped_matmul, bias, gelu, grouped_matmul, bias\]", plan);
        }
        finally
        {
            var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            try
            {
                var cached = Path.Combine(packages, "wudao.tool", version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
            catch (IOException)
            {
            }
        }
    }

    private static string Host() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    /// <summary>Runs a program; fails the test with its output on a non-zero exit or after <see cref="StepLimit"/>.</summary>
    private static string Run(string directory, string program, params string[] args) =>
        // The installed tool's launcher finds the runtime through DOTNET_ROOT where it is not in a default place.
        Wudao.Tests.Shared.ChildProcess.Run(directory, program, args, StepLimit, DotnetRoot() is { } root ? new Dictionary<string, string> { ["DOTNET_ROOT"] = root } : null);

    /// <summary>The folder of the dotnet host running these tests (links resolved), or null when unknown.</summary>
    private static string? DotnetRoot()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? Environment.ProcessPath;
        if (host == null || !Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return Environment.GetEnvironmentVariable("DOTNET_ROOT");
        }

        var target = new FileInfo(host).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? host;
        return Path.GetDirectoryName(target);
    }
}
