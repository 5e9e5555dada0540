using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Wudao.Compiler.Spec;
using Wudao.Generators.Model;

namespace Wudao.Generators;

/// <summary>
/// Reads [AttentionKernel] off a class into an <see cref="AttentionKernelSpec"/>. Never throws:
/// every problem becomes a diagnostic at its argument or the class name.
/// </summary>
internal static class AttentionKernelParser
{
    public const string KernelAttribute = "Wudao.AttentionKernelAttribute";

    private static readonly HashSet<string> GeneratedMembers = new() { "HeadDim", "Forward", "Device", "Native", "Ilgpu" };

    public static AttentionKernelParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var syntax = (TypeDeclarationSyntax)context.TargetNode;
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        var identifier = LocationInfo.From(syntax.Identifier.GetLocation());
        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(MoeLayerParser.Diag(Descriptors.NotPartial, identifier, symbol.Name));
        }

        if (symbol.ContainingType != null || symbol.IsGenericType || symbol.IsRecord)
        {
            diagnostics.Add(MoeLayerParser.Diag(Descriptors.UnsupportedClass, identifier, symbol.Name, "must be a non-generic class at namespace level to hold an attention kernel"));
        }

        foreach (var member in symbol.GetMembers().Where(m => !m.IsImplicitlyDeclared && GeneratedMembers.Contains(m.Name)))
        {
            diagnostics.Add(MoeLayerParser.Diag(Descriptors.MemberCollision, LocationInfo.From(member.Locations.FirstOrDefault()) ?? identifier, symbol.Name, member.Name));
        }

        var attribute = context.Attributes[0];
        var spec = new AttentionKernelSpec(
            MoeLayerParser.NamespaceOf(symbol),
            symbol.Name,
            symbol.DeclaredAccessibility == Accessibility.Public ? "public" : "internal",
            symbol.IsStatic,
            MoeLayerParser.Int(attribute, "HeadDim", 0));
        if (spec.Error is { } error)
        {
            diagnostics.Add(MoeLayerParser.Diag(Descriptors.InvalidModelShape, MoeLayerParser.ArgumentLocation(attribute, "HeadDim", ct) ?? identifier, error));
        }

        return new AttentionKernelParseResult(diagnostics.Count == 0 ? spec : null, new EquatableArray<DiagnosticInfo>(diagnostics));
    }
}
