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
/// Reads [MoeLayer] and [Router] off a class into a <see cref="MoeLayerSpec"/>. Never throws on
/// bad input: every problem becomes a diagnostic at the argument that caused it.
/// </summary>
internal static class MoeLayerParser
{
    public const string LayerAttribute = "Wudao.MoeLayerAttribute";
    public const string RouterAttribute = "Wudao.RouterAttribute";
    public const string ExpertParallelAttribute = "Wudao.ExpertParallelAttribute";

    public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var syntax = (TypeDeclarationSyntax)context.TargetNode;
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        var identifier = LocationInfo.From(syntax.Identifier.GetLocation());
        ClassChecks(syntax, symbol, GeneratedMembers, diagnostics);

        var layer = context.Attributes[0];
        var router = symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == RouterAttribute);
        var parallel = symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == ExpertParallelAttribute);
        var spec = Spec(NamespaceOf(symbol), symbol.Name, symbol.DeclaredAccessibility == Accessibility.Public ? "public" : "internal", layer, router, parallel, Int(layer, "Dim", 0));

        foreach (var error in SpecValidator.Validate(spec))
        {
            var onRouter = error.Property is "CapacityFactor" or "Router" or "Jitter" or "ZLossWeight" or "ImportanceWeight" or "LoadWeight" or "SharedExperts" or "BiasUpdateRate" or "Vocab";
            var owner = error.Property == "Ranks" ? parallel : onRouter ? router : layer;
            var where = ArgumentLocation(owner, error.Property == "Router" ? null : error.Property, ct) ?? identifier;
            diagnostics.Add(Diag(Descriptor(error.Kind), where, error.Message));
        }

        return new ParseResult(diagnostics.Count == 0 ? spec : null, new EquatableArray<DiagnosticInfo>(diagnostics));
    }

    /// <summary>
    /// A MoE layer's spec from the attribute holding its sizes ([MoeLayer], or a model's
    /// [MoeFeedForward]) and the [Router]; router options left unset take the router's defaults.
    /// </summary>
    internal static MoeLayerSpec Spec(string ns, string className, string accessibility, AttributeData layer, AttributeData? router, AttributeData? parallel, int dim)
    {
        var routerKind = router != null && router.ConstructorArguments.Length == 1 && router.ConstructorArguments[0].Value is int r ? (RouterKind)r : RouterKind.TopK;
        var aux = MoeLayerSpec.HasAuxLoss(routerKind) ? 0.01f : 0f;
        return new MoeLayerSpec(
            ns,
            className,
            accessibility,
            dim,
            Int(layer, "Experts", 0),
            Int(layer, "TopK", routerKind == RouterKind.ExpertChoice ? 0 : 1),
            Int(layer, "Hidden", 0),
            (ActivationKind)Int(layer, "Activation", 0),
            routerKind,
            router != null ? Float(router, "CapacityFactor", MoeLayerSpec.DefaultCapacityFactor(routerKind)) : MoeLayerSpec.DefaultCapacityFactor(routerKind),
            Float(layer, "AuxLossWeight", aux),
            parallel != null ? Int(parallel, "Ranks", 0) : 0,
            RouterFloat("Jitter", 0f),
            RouterFloat("ZLossWeight", 0f),
            RouterFloat("ImportanceWeight", routerKind == RouterKind.NoisyTopK ? 0.01f : 0f),
            RouterFloat("LoadWeight", routerKind == RouterKind.NoisyTopK ? 0.01f : 0f),
            router != null ? Int(router, "SharedExperts", routerKind == RouterKind.DeepSeek ? 1 : 0) : 0,
            RouterFloat("BiasUpdateRate", routerKind == RouterKind.DeepSeek ? 0.001f : 0f),
            router != null ? Int(router, "Vocab", 0) : 0);

        float RouterFloat(string name, float fallback) => router != null ? Float(router, name, fallback) : fallback;
    }

    /// <summary>The class must be a partial, non-nested, non-generic, instantiable class without members the generator adds.</summary>
    internal static void ClassChecks(TypeDeclarationSyntax syntax, INamedTypeSymbol symbol, HashSet<string> generated, List<DiagnosticInfo> diagnostics)
    {
        var identifier = LocationInfo.From(syntax.Identifier.GetLocation());
        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(Diag(Descriptors.NotPartial, identifier, symbol.Name));
        }

        if (symbol.ContainingType != null)
        {
            diagnostics.Add(Diag(Descriptors.UnsupportedClass, identifier, symbol.Name, "is nested in another type; declare MoE layers at namespace level"));
        }

        if (symbol.IsGenericType)
        {
            diagnostics.Add(Diag(Descriptors.UnsupportedClass, identifier, symbol.Name, "is generic; MoE layers have fixed shapes and cannot take type parameters"));
        }

        if (symbol.IsRecord)
        {
            diagnostics.Add(Diag(Descriptors.UnsupportedClass, identifier, symbol.Name, "is a record; declare MoE layers as a partial class"));
        }

        foreach (var member in symbol.GetMembers().Where(m => !m.IsImplicitlyDeclared && generated.Contains(m.Name)))
        {
            diagnostics.Add(Diag(Descriptors.MemberCollision, LocationInfo.From(member.Locations.FirstOrDefault()) ?? identifier, symbol.Name, member.Name));
        }

        if (generated.Contains(symbol.Name))
        {
            diagnostics.Add(Diag(Descriptors.MemberCollision, identifier, symbol.Name, symbol.Name));
        }

        if (symbol.IsStatic || symbol.IsAbstract)
        {
            diagnostics.Add(Diag(Descriptors.UnsupportedClass, identifier, symbol.Name, "is static or abstract; Wudao creates instances of the layer"));
        }
    }

    /// <summary>Members the generator adds; a user member of the same name would collide.</summary>
    private static readonly HashSet<string> GeneratedMembers = new() { "Info", "Kernels", "CpuKernels", "NativeKernels", "Create", "Load", "Forward", "Weights", "Step", "Dispose", "UpdateBalanceBias", "Training" };

    /// <summary>The dotted namespace without '@' escapes (the emitter escapes what needs it).</summary>
    internal static string NamespaceOf(INamedTypeSymbol symbol)
    {
        var parts = new List<string>();
        for (var ns = symbol.ContainingNamespace; ns is { IsGlobalNamespace: false }; ns = ns.ContainingNamespace)
        {
            parts.Insert(0, ns.Name);
        }

        return string.Join(".", parts);
    }

    internal static DiagnosticDescriptor Descriptor(SpecErrorKind kind) => kind switch
    {
        SpecErrorKind.NonPositiveSize => Descriptors.NonPositiveSize,
        SpecErrorKind.TopKExceedsExperts => Descriptors.TopKExceedsExperts,
        SpecErrorKind.UnsupportedActivation => Descriptors.UnsupportedActivation,
        SpecErrorKind.SizeTooLarge => Descriptors.SizeTooLarge,
        SpecErrorKind.UnevenPartition => Descriptors.UnevenPartition,
        SpecErrorKind.InvalidRouterCombination => Descriptors.InvalidRouterCombination,
        _ => Descriptors.UnsupportedRouterOption,
    };

    /// <summary>The named argument's location, else the attribute's own (for a constructor argument or an unset property).</summary>
    internal static LocationInfo? ArgumentLocation(AttributeData? attribute, string? property, CancellationToken ct)
    {
        if (attribute?.ApplicationSyntaxReference?.GetSyntax(ct) is not AttributeSyntax syntax)
        {
            return null;
        }

        var argument = property == null
            ? syntax.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals == null)
            : syntax.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == property);
        return LocationInfo.From(argument?.GetLocation() ?? syntax.GetLocation());
    }

    internal static int Int(AttributeData attribute, string name, int fallback) =>
        Named(attribute, name) is { Kind: not TypedConstantKind.Error, Value: int v } ? v : fallback;

    internal static float Float(AttributeData attribute, string name, float fallback) =>
        Named(attribute, name) switch
        {
            { Kind: TypedConstantKind.Error } => fallback,
            { Value: float f } => f,
            { Value: double d } => (float)d,
            { Value: int i } => i,
            _ => fallback,
        };

    internal static TypedConstant? Named(AttributeData attribute, string name)
    {
        foreach (var kv in attribute.NamedArguments)
        {
            if (kv.Key == name)
            {
                return kv.Value;
            }
        }

        return null;
    }

    internal static DiagnosticInfo Diag(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] args) =>
        new(descriptor.Id, new EquatableArray<string>(args), location);
}
