using System;
using System.IO;

namespace Wudao.Tool.Tests;

/// <summary>Paths into the repository the tests run in.</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    public static string Path(params string[] parts) => System.IO.Path.Combine(Root, System.IO.Path.Combine(parts));

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Wudao.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Wudao.sln not found above " + AppContext.BaseDirectory);
    }
}
