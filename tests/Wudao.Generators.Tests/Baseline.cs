using System;
using System.IO;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>
/// Checked-in expected outputs under Baselines/&lt;test&gt;/&lt;hint name&gt;.txt. With WUDAO_UPDATE_BASELINES=1
/// the actual text is written into the source tree instead of compared.
/// </summary>
internal static class Baseline
{
    public const string UpdateVariable = "WUDAO_UPDATE_BASELINES";

    public static bool Updating => Environment.GetEnvironmentVariable(UpdateVariable) == "1";

    public static void Verify(string testName, string hintName, string actual)
    {
        var relative = Path.Combine("Baselines", testName, hintName + ".txt");
        actual = Normalize(actual);
        if (Updating)
        {
            var target = Path.Combine(ProjectDirectory(), relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, actual);
            return;
        }

        var path = Path.Combine(AppContext.BaseDirectory, relative);
        Assert.True(File.Exists(path), $"missing baseline {relative}; run the tests once with {UpdateVariable}=1 to create it");
        Assert.Equal(Normalize(File.ReadAllText(path)), actual);
    }

    /// <summary>The folder holding the test project, found by walking up from the test binaries.</summary>
    public static string ProjectDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Wudao.Generators.Tests.csproj")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Wudao.Generators.Tests.csproj not found above {AppContext.BaseDirectory}");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");
}
