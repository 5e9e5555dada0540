using System;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using Wudao.Compiler;
using Wudao.Compiler.Codegen;

namespace Wudao.Generators;

/// <summary>
/// Compiles every [MoeLayer] partial class into fused ILGPU kernels and a launcher, every
/// [MoeTransformer] into a model, and every [AttentionKernel] into a fused attention kernel.
/// Diagnostics run in their own step, so a moved declaration re-reports without re-emitting.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class WudaoGenerator : IIncrementalGenerator
{
    public const string ParseStep = "Wudao.Parse";
    public const string SpecStep = "Wudao.Spec";
    public const string ModelParseStep = "Wudao.ModelParse";
    public const string ModelSpecStep = "Wudao.ModelSpec";
    public const string AttentionParseStep = "Wudao.AttentionParse";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider.ForAttributeWithMetadataName(
                MoeLayerParser.LayerAttribute,
                static (node, _) => node is TypeDeclarationSyntax,
                static (ctx, ct) => MoeLayerParser.Parse(ctx, ct))
            .WithTrackingName(ParseStep);

        context.RegisterSourceOutput(parsed.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
        {
            foreach (var d in diagnostics)
            {
                spc.ReportDiagnostic(d.ToDiagnostic());
            }
        });

        var specs = parsed.Where(static r => r.Spec != null).Select(static (r, _) => r.Spec!).WithTrackingName(SpecStep);
        context.RegisterSourceOutput(specs, static (spc, spec) =>
        {
            try
            {
                var source = MoeCompiler.Compile(spec).Source;
                spc.AddSource(CSharpNames.Qualified(spec.Namespace, spec.ClassName) + ".Moe.g.cs", SourceText.From(source, System.Text.Encoding.UTF8));
            }
            catch (Exception e)
            {
                // The generator never throws: a failure is reported, not crashed on.
                spc.ReportDiagnostic(Failure(spec.ClassName, e));
            }
        });

        // Models: the same shape of pipeline, emitting the model class and its MoE layer class.
        var models = context.SyntaxProvider.ForAttributeWithMetadataName(
                ModelParser.ModelAttribute,
                static (node, _) => node is TypeDeclarationSyntax,
                static (ctx, ct) => ModelParser.Parse(ctx, ct))
            .WithTrackingName(ModelParseStep);

        context.RegisterSourceOutput(models.Select(static (r, _) => r.Diagnostics), static (spc, diagnostics) =>
        {
            foreach (var d in diagnostics)
            {
                spc.ReportDiagnostic(d.ToDiagnostic());
            }
        });

        var modelSpecs = models.Where(static r => r.Spec != null).Select(static (r, _) => r.Spec!).WithTrackingName(ModelSpecStep);
        context.RegisterSourceOutput(modelSpecs, static (spc, spec) =>
        {
            try
            {
                var compiled = ModelCompiler.Compile(spec);
                spc.AddSource(CSharpNames.Qualified(spec.Namespace, spec.ClassName) + ".Model.g.cs", SourceText.From(compiled.Source, System.Text.Encoding.UTF8));
                spc.AddSource(CSharpNames.Qualified(spec.Namespace, spec.Moe.ClassName) + ".Moe.g.cs", SourceText.From(compiled.Moe.Source, System.Text.Encoding.UTF8));
            }
            catch (Exception e)
            {
                spc.ReportDiagnostic(Failure(spec.ClassName, e));
            }
        });

        // Standalone attention kernels: one op, straight from its spec to the emitter.
        var kernels = context.SyntaxProvider.ForAttributeWithMetadataName(
                AttentionKernelParser.KernelAttribute,
                static (node, _) => node is TypeDeclarationSyntax,
                static (ctx, ct) => AttentionKernelParser.Parse(ctx, ct))
            .WithTrackingName(AttentionParseStep);

        context.RegisterSourceOutput(kernels, static (spc, result) =>
        {
            foreach (var d in result.Diagnostics)
            {
                spc.ReportDiagnostic(d.ToDiagnostic());
            }

            if (result.Spec is { } spec)
            {
                try
                {
                    spc.AddSource(CSharpNames.Qualified(spec.Namespace, spec.ClassName) + ".Attention.g.cs", SourceText.From(AttentionKernelCompiler.Compile(spec), System.Text.Encoding.UTF8));
                }
                catch (Exception e)
                {
                    spc.ReportDiagnostic(Failure(spec.ClassName, e));
                }
            }
        });
    }

    /// <summary>A kernel no emitter could assemble is WD0014; any other compile error is WD0008.</summary>
    private static Diagnostic Failure(string className, Exception e) => e is KernelAssemblyException
        ? Diagnostic.Create(Descriptors.KernelNotAssembled, Location.None, className, e.Message)
        : Diagnostic.Create(Descriptors.CompileFailed, Location.None, className, e.Message);
}
