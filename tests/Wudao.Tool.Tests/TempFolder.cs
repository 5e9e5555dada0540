using System;
using System.IO;

namespace Wudao.Tool.Tests;

/// <summary>A folder under the temp path, deleted with the test.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Directory.CreateDirectory(FullName);
    }

    public string FullName { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "wudao-tool-" + Guid.NewGuid().ToString("N"));

    public string Path(string name) => System.IO.Path.Combine(FullName, name);

    public string Write(string name, string text)
    {
        var path = Path(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(FullName, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
