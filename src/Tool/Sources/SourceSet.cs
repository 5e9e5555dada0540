using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Xml;
using System.Xml.Linq;

namespace Wudao.Tool.Sources;

/// <summary>
/// The C# files a path names — a .csproj (every .cs under its folder), a folder, or .cs files — and
/// the global usings the project's SDK would add, so declarations bind as they do in a build.
/// </summary>
/// <param name="Files">Full paths of the C# files, sorted.</param>
/// <param name="GlobalUsings">Namespaces imported in every file (implicit usings and &lt;Using&gt; items).</param>
public sealed record SourceSet(IReadOnlyList<string> Files, IReadOnlyList<string> GlobalUsings)
{
    /// <summary>What Microsoft.NET.Sdk imports when a project sets <c>ImplicitUsings</c>.</summary>
    private static readonly string[] SdkImplicitUsings =
    {
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks",
    };

    private const string ConfigNotSupported =
        "Hugging Face config.json declarations are not supported yet; declare the model with [MoeTransformer] in C# and pass its project, folder or .cs files";

    public static SourceSet Resolve(IReadOnlyList<string> paths)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        var usings = new List<string>();
        foreach (var path in paths)
        {
            var full = Path.GetFullPath(path);
            if (Directory.Exists(full))
            {
                var projects = Directory.GetFiles(full, "*.csproj");
                if (projects.Length == 1)
                {
                    usings.AddRange(ProjectUsings(projects[0]));
                }

                AddFolder(full, files, path);
            }
            else if (!File.Exists(full))
            {
                throw new ToolException($"no such file or folder: {path}");
            }
            else if (Path.GetFileName(full).Equals("config.json", StringComparison.OrdinalIgnoreCase))
            {
                throw new ToolException($"{path}: {ConfigNotSupported}");
            }
            else if (full.EndsWith(".csproj", StringComparison.OrdinalIgnoreCase))
            {
                usings.AddRange(ProjectUsings(full));
                AddFolder(Path.GetDirectoryName(full)!, files, path);
            }
            else if (full.EndsWith(".cs", StringComparison.OrdinalIgnoreCase))
            {
                files.Add(full);
            }
            else
            {
                throw new ToolException($"{path}: expected a .csproj, a folder or .cs files");
            }
        }

        return new SourceSet(files.ToList(), usings.Distinct(StringComparer.Ordinal).ToList());
    }

    /// <summary>Every .cs under <paramref name="folder"/>, leaving out build output (bin, obj) and hidden folders.</summary>
    private static void AddFolder(string folder, SortedSet<string> files, string asGiven)
    {
        var before = files.Count;
        var pending = new Stack<string>();
        pending.Push(folder);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            foreach (var file in Directory.GetFiles(dir, "*.cs"))
            {
                files.Add(file);
            }

            foreach (var sub in Directory.GetDirectories(dir))
            {
                var name = Path.GetFileName(sub);
                if (!name.StartsWith(".", StringComparison.Ordinal) && name is not ("bin" or "obj"))
                {
                    pending.Push(sub);
                }
            }
        }

        if (files.Count == before)
        {
            var config = File.Exists(Path.Combine(folder, "config.json")) ? $"; it holds a config.json — {ConfigNotSupported}" : "";
            throw new ToolException($"{asGiven}: no C# files found{config}");
        }
    }

    /// <summary>The namespaces a project imports in every file: the SDK's implicit usings when enabled, and its &lt;Using Include&gt; items.</summary>
    private static IEnumerable<string> ProjectUsings(string project)
    {
        XDocument xml;
        try
        {
            xml = XDocument.Load(project);
        }
        catch (XmlException e)
        {
            throw new ToolException($"{project}: not a readable project file ({e.Message})");
        }

        var usings = new List<string>();
        if (xml.Descendants().Any(e => e.Name.LocalName == "ImplicitUsings" && e.Value.Trim() is "enable" or "true"))
        {
            usings.AddRange(SdkImplicitUsings);
        }

        foreach (var item in xml.Descendants().Where(e => e.Name.LocalName == "Using"))
        {
            if (item.Attribute("Include")?.Value is { Length: > 0 } ns && item.Attribute("Alias") == null && item.Attribute("Static")?.Value != "true")
            {
                usings.Add(ns);
            }
        }

        return usings;
    }
}
