using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Wudao.Generators;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>Compiles source text against the real runtime and ILGPU and runs the Wudao generator on it.</summary>
internal static class GeneratorHarness
{
    public const string DefaultPath = "Layer.cs";

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(Session).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(ILGPU.Context).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(ILGPU.Algorithms.XMath).Assembly.Location),
        // The native backward kernels call TensorPrimitives (a dependency of the runtime, so of every user).
        MetadataReference.CreateFromFile(typeof(System.Numerics.Tensors.TensorPrimitives).Assembly.Location),
    ];

    private static readonly CSharpCompilationOptions Options = new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
        .WithNullableContextOptions(NullableContextOptions.Enable)
        .WithSpecificDiagnosticOptions(new Dictionary<string, ReportDiagnostic>
        {
            // ILGPU's build references System.Runtime 7.0; unifying it with 10.0 is expected.
            ["CS1701"] = ReportDiagnostic.Suppress,
            ["CS1702"] = ReportDiagnostic.Suppress,
        });

    public static SyntaxTree Parse(string source, string path = DefaultPath) =>
        CSharpSyntaxTree.ParseText(source, ParseOptions, path);

    public static CSharpCompilation Compilation(string source, string path = DefaultPath) =>
        CSharpCompilation.Create("Wudao.Generators.Tests.Input", [Parse(source, path)], References, Options);

    public static CSharpCompilation Compilation(params (string Path, string Source)[] files) =>
        CSharpCompilation.Create("Wudao.Generators.Tests.Input", files.Select(f => Parse(f.Source, f.Path)), References, Options);

    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            [new WudaoGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorRun Run(string source, string path = DefaultPath) => Run(CreateDriver(), Compilation(source, path));

    /// <summary>Runs <paramref name="driver"/> on <paramref name="input"/>; pass the previous run's driver to test caching.</summary>
    public static GeneratorRun Run(GeneratorDriver driver, CSharpCompilation input)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out var output, out _);
        return new GeneratorRun(input, driver, driver.GetRunResult(), output);
    }
}

/// <summary>One generator run: what went in, what the generator produced, and the compilation it produced.</summary>
internal sealed class GeneratorRun
{
    public GeneratorRun(CSharpCompilation input, GeneratorDriver driver, GeneratorDriverRunResult result, Compilation output)
    {
        Input = input;
        Driver = driver;
        Result = result;
        Output = output;
    }

    public CSharpCompilation Input { get; }

    /// <summary>The driver after the run, holding the cached pipeline state.</summary>
    public GeneratorDriver Driver { get; }

    public GeneratorDriverRunResult Result { get; }

    /// <summary>The input compilation plus the generated sources.</summary>
    public Compilation Output { get; }

    public GeneratorRunResult Generator => Assert.Single(Result.Results);

    public Exception? Exception => Generator.Exception;

    public ImmutableArray<GeneratedSourceResult> Sources => Generator.GeneratedSources;

    /// <summary>What the generator reported (driver-level, so a generator crash shows up here too).</summary>
    public ImmutableArray<Diagnostic> GeneratorDiagnostics => Result.Diagnostics;

    public ImmutableArray<Diagnostic> OutputDiagnostics => Output.GetDiagnostics();

    public IEnumerable<Diagnostic> OutputErrors => OutputDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error);

    public string SourceText(string hintName) =>
        Assert.Single(Sources, s => s.HintName == hintName).SourceText.ToString();

    public string SingleSource() => Assert.Single(Sources).SourceText.ToString();

    /// <summary>Outputs of a tracked step, across all its runs.</summary>
    public IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> StepOutputs(string stepName) =>
        Generator.TrackedSteps.TryGetValue(stepName, out var steps)
            ? steps.SelectMany(s => s.Outputs).ToList()
            : [];

    /// <summary>Outputs of the registered output nodes (source and diagnostic outputs).</summary>
    public IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> OutputStepOutputs() =>
        Generator.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs).ToList();

    public Diagnostic SingleDiagnostic(string id) => Assert.Single(GeneratorDiagnostics, d => d.Id == id);
}
