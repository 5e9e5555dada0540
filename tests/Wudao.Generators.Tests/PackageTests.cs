using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>
/// The package a new user consumes: src/Runtime packed into a folder feed, a fresh console project
/// outside the repository that references it, and the README's layer and model snippets, pasted as
/// written, built and run. A README edit that stops a snippet compiling fails here.
/// </summary>
public class PackageTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static readonly TimeSpan StepLimit = TimeSpan.FromMinutes(5);

    [Fact]
    public void The_readme_snippets_build_and_run_against_the_packed_package()
    {
        var repo = RepositoryRoot();
        var readme = File.ReadAllText(Path.Combine(repo, "README.md"));
        var layer = Snippet(readme, "[MoeLayer(");
        var model = Snippet(readme, "[MoeTransformer(");

        // A version no earlier run used, so no cached Wudao package can stand in for this one.
        var version = "0.1.0-t" + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        var root = Path.Combine(Path.GetTempPath(), "wudao-pack-" + Guid.NewGuid().ToString("N"));
        var feed = Path.Combine(root, "feed");
        var app = Path.Combine(root, "app");
        Directory.CreateDirectory(feed);
        Directory.CreateDirectory(app);
        try
        {
            // The test project's build already built the runtime and the generator in this configuration.
            Dotnet(repo, "pack", Path.Combine(repo, "src", "Runtime", "Wudao.Runtime.csproj"), "-c", Configuration,
                "--no-build", "--no-restore", "-o", feed, "-p:PackageVersion=" + version);
            Assert.True(File.Exists(Path.Combine(feed, $"Wudao.{version}.nupkg")), "no package in " + feed);

            // Empty Directory.*.props stop MSBuild looking further up for another project's settings.
            File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
            File.WriteAllText(Path.Combine(app, "Directory.Packages.props"), "<Project />\n");
            // The folder feed beside whatever sources this machine already has configured.
            File.WriteAllText(Path.Combine(app, "nuget.config"),
                $"<configuration>\n  <packageSources>\n    <add key=\"wudao-test\" value=\"{feed}\" />\n  </packageSources>\n</configuration>\n");
            File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>disable</ImplicitUsings>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Wudao" Version="{version}" />
                  </ItemGroup>
                </Project>

                """);

            var program = Path.Combine(app, "Program.cs");
            var dll = Path.Combine(app, "bin", "Debug", "net10.0", "App.dll");

            File.WriteAllText(program, layer);
            Dotnet(app, "build", "-c", "Debug");
            var layerOutput = Dotnet(app, dll);
            Assert.Contains("plan MyMoe", layerOutput, StringComparison.Ordinal);
            Assert.Contains("expert_ffn", layerOutput, StringComparison.Ordinal);

            File.WriteAllText(program, model);
            Dotnet(app, "build", "-c", "Debug", "--no-restore");
            var modelOutput = Dotnet(app, dll);
            Assert.Contains("plan TinyMoeLm", modelOutput, StringComparison.Ordinal);
            // The snippet prints its generated token ids on one line.
            Assert.Matches(new Regex(@"^\d+( \d+)+$", RegexOptions.Multiline), modelOutput);
        }
        finally
        {
            TryDelete(root);
            var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            TryDelete(Path.Combine(packages, "wudao", version));
        }
    }

    /// <summary>The first ```csharp block of the README that holds <paramref name="marker"/>, as written.</summary>
    private static string Snippet(string readme, string marker)
    {
        var blocks = Regex.Matches(readme, "^```csharp\\n(.*?)^```", RegexOptions.Singleline | RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value);
        var block = blocks.FirstOrDefault(b => b.Contains(marker, StringComparison.Ordinal));
        Assert.True(block != null, $"README.md has no ```csharp block with {marker}");
        return block!;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Wudao.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Wudao.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs the dotnet host; fails the test with its output on a non-zero exit or after <see cref="StepLimit"/>.</summary>
    private static string Dotnet(string directory, params string[] args) =>
        Wudao.Tests.Shared.ChildProcess.Run(directory, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", args, StepLimit, new Dictionary<string, string> { ["WUDAO_DEVICE"] = "native" });

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
