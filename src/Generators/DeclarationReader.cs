using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Wudao.Compiler.Spec;
using Wudao.Generators.Model;

namespace Wudao.Generators;

/// <summary>
/// Runs <see cref="WudaoGenerator"/> over a compilation, as a build does, and reads the specs back
/// off its tracked pipeline steps. A tool that reports on declarations so sees exactly what the
/// build's generator parsed and reported: the same parsers, the same diagnostics, no second path.
/// </summary>
public static class DeclarationReader
{
    public static Declarations Read(Compilation compilation, CancellationToken ct = default)
    {
        var driver = CSharpGeneratorDriver.Create(
            new[] { new WudaoGenerator().AsSourceGenerator() },
            parseOptions: compilation.SyntaxTrees.FirstOrDefault()?.Options as CSharpParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        var run = driver.RunGenerators(compilation, ct).GetRunResult().Results[0];
        if (run.Exception != null)
        {
            // The generator reports its own failures; an escaped exception is a bug worth its stack.
            throw run.Exception;
        }

        IEnumerable<object> Outputs(string step) => run.TrackedSteps.TryGetValue(step, out var steps)
            ? steps.SelectMany(s => s.Outputs).Select(o => o.Value)
            : Enumerable.Empty<object>();

        return new Declarations(
            Outputs(WudaoGenerator.SpecStep).OfType<MoeLayerSpec>().ToList(),
            Outputs(WudaoGenerator.ModelSpecStep).OfType<ModelSpec>().ToList(),
            Outputs(WudaoGenerator.AttentionParseStep).OfType<AttentionKernelParseResult>().Where(r => r.Spec != null).Select(r => r.Spec!).ToList(),
            run.Diagnostics);
    }
}
