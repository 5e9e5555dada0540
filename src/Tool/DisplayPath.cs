using System;
using System.IO;

namespace Wudao.Tool;

/// <summary>Paths as messages show them: relative to the working folder when they lie under it, else as they are.</summary>
public static class DisplayPath
{
    public static string Of(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative;
    }
}
