using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Wudao.Generators;

namespace Wudao.Tool.Sources;

/// <summary>
/// Compiles a <see cref="SourceSet"/> with Roslyn against this runtime's assemblies and reads its
/// Wudao declarations through the generator (<see cref="DeclarationReader"/>): the specs and WD
/// diagnostics a build of the same sources would see.
/// </summary>
public static class DeclarationLoader
{
    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(LoadReferences);

    public static Declarations Load(SourceSet sources)
    {
        var trees = new List<SyntaxTree>();
        foreach (var file in sources.Files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ToolException($"{DisplayPath.Of(file)}: cannot be read ({e.Message})");
            }

            trees.Add(CSharpSyntaxTree.ParseText(text, ParseOptions, file, Encoding.UTF8));
        }

        if (sources.GlobalUsings.Count > 0)
        {
            var usings = string.Concat(sources.GlobalUsings.Select(u => $"global using global::{u};\n"));
            trees.Add(CSharpSyntaxTree.ParseText(usings, ParseOptions, "GlobalUsings.g.cs", Encoding.UTF8));
        }

        var options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true);
        var compilation = CSharpCompilation.Create("WudaoToolInput", trees, References.Value, options);
        return DeclarationReader.Read(compilation);
    }

    /// <summary>
    /// Writes every diagnostic as <c>file:line:col: error WD0002: message</c>, paths relative to
    /// the working folder where they lie under it; returns how many are errors.
    /// </summary>
    public static int Report(IEnumerable<Diagnostic> diagnostics, TextWriter error)
    {
        var errors = 0;
        foreach (var d in diagnostics.OrderBy(d => d.Location.SourceTree?.FilePath, StringComparer.Ordinal).ThenBy(d => d.Location.SourceSpan.Start))
        {
            var severity = d.Severity.ToString().ToLowerInvariant();
            var span = d.Location.GetMappedLineSpan();
            var where = span.IsValid && span.Path.Length > 0
                ? $"{DisplayPath.Of(span.Path)}:{span.StartLinePosition.Line + 1}:{span.StartLinePosition.Character + 1}: "
                : "";
            error.WriteLine($"{where}{severity} {d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}");
            errors += d.Severity == DiagnosticSeverity.Error ? 1 : 0;
        }

        return errors;
    }

    /// <summary>
    /// The assemblies this process runs on (the platform's, and the Wudao runtime whose attributes
    /// declarations use); a build compiles against the same API surface.
    /// </summary>
    private static IReadOnlyList<MetadataReference> LoadReferences()
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string trusted)
        {
            paths.UnionWith(trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }
        else
        {
            paths.UnionWith(Directory.GetFiles(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "*.dll"));
        }

        paths.Add(typeof(MoeLayerAttribute).Assembly.Location);
        return paths.Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && File.Exists(p))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToList();
    }
}
