using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Wudao.Compiler.Spec;
using Wudao.Generators.Model;

namespace Wudao.Generators;

/// <summary>
/// Reads [MoeTransformer], [Attention], [MoeFeedForward] and [Router] off a class into a
/// <see cref="ModelSpec"/>. Never throws: every problem becomes a diagnostic at its argument.
/// </summary>
internal static class ModelParser
{
    public const string ModelAttribute = "Wudao.MoeTransformerAttribute";
    public const string AttentionAttribute = "Wudao.AttentionAttribute";
    public const string FeedForwardAttribute = "Wudao.MoeFeedForwardAttribute";

    /// <summary>Members the generator adds to a model class.</summary>
    private static readonly HashSet<string> GeneratedMembers = new() { "Info", "Create", "Load", "Forward", "Step", "Generate", "Sample", "Next", "Reset", "Weights", "ExpertLoad", "Vocab", "MaxSequence", "Length", "Dispose", "Run", "RunDevice", "KernelTicks", "KernelRoles", "Training", "UpdateBalanceBias", "Truncate", "Guarded", "Append", "Release" };

    private static readonly HashSet<string> ModelProperties = new() { "Vocab", "Dim", "Layers", "MaxSequence", "Norm", "NormEpsilon" };
    private static readonly HashSet<string> AttentionProperties = new() { "Heads", "KvHeads", "Position", "RopeBase" };
    private static readonly HashSet<string> RouterProperties = new() { "CapacityFactor", "Router", "Jitter", "ZLossWeight", "ImportanceWeight", "LoadWeight", "SharedExperts", "BiasUpdateRate" };

    public static ModelParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var diagnostics = new List<DiagnosticInfo>();
        var syntax = (TypeDeclarationSyntax)context.TargetNode;
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        var identifier = LocationInfo.From(syntax.Identifier.GetLocation());
        MoeLayerParser.ClassChecks(syntax, symbol, GeneratedMembers, diagnostics);

        // The MoE feed-forward compiles into a class of its own next to the model.
        var companion = symbol.Name + "Moe";
        if (symbol.ContainingNamespace.GetTypeMembers(companion).Any(t => t.DeclaringSyntaxReferences.Length > 0))
        {
            diagnostics.Add(MoeLayerParser.Diag(Descriptors.UnsupportedClass, identifier, symbol.Name, $"needs the name '{companion}' for its generated MoE layer class, but the namespace already declares a type of that name"));
        }

        var model = context.Attributes[0];
        AttributeData? Find(string name) => symbol.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == name);
        var attention = Find(AttentionAttribute);
        var ffn = Find(FeedForwardAttribute);
        var router = Find(MoeLayerParser.RouterAttribute);
        foreach (var (attribute, name) in new[] { (attention, "[Attention(Heads = ...)]"), (ffn, "[MoeFeedForward(Experts = ..., Hidden = ...)]") })
        {
            if (attribute == null)
            {
                diagnostics.Add(MoeLayerParser.Diag(Descriptors.IncompleteModel, identifier, symbol.Name, name));
            }
        }

        if (attention == null || ffn == null)
        {
            return new ModelParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        var ns = MoeLayerParser.NamespaceOf(symbol);
        var access = symbol.DeclaredAccessibility == Accessibility.Public ? "public" : "internal";
        int Int(AttributeData a, string name, int fallback) => MoeLayerParser.Int(a, name, fallback);
        float Float(AttributeData a, string name, float fallback) => MoeLayerParser.Float(a, name, fallback);
        var dim = Int(model, "Dim", 0);
        var vocab = Int(model, "Vocab", 0);
        var moe = MoeLayerParser.Spec(ns, symbol.Name + "Moe", access, ffn, router, null, dim);
        if (moe.Router == RouterKind.Hash && moe.Vocab == 0)
        {
            // Hash routing inside a model routes by the model's own token ids.
            moe = moe with { Vocab = vocab };
        }

        var heads = Int(attention, "Heads", 0);
        var hidden = Int(ffn, "Hidden", 0);
        var spec = new ModelSpec(
            ns,
            symbol.Name,
            access,
            vocab,
            dim,
            Int(model, "Layers", 0),
            Int(model, "MaxSequence", 0),
            (NormKind)Int(model, "Norm", 0),
            Float(model, "NormEpsilon", 1e-5f),
            heads,
            Int(attention, "KvHeads", 0) is var kv && kv != 0 ? kv : heads,
            MoeLayerParser.Named(attention, "Causal") is { Value: bool causal } ? causal : true,
            (PositionKind)Int(attention, "Position", (int)PositionKind.Rope),
            Float(attention, "RopeBase", 10000f),
            moe,
            Int(ffn, "Every", 1),
            Int(ffn, "DenseHidden", 0) is var dh && dh != 0 ? dh : hidden,
            MoeLayerParser.Named(attention, "QkNorm") is { Value: true });

        foreach (var error in ModelSpecValidator.Validate(spec))
        {
            var owner = ModelProperties.Contains(error.Property) && !(error.Property == "Vocab" && error.Kind == SpecErrorKind.InvalidRouterCombination) ? model
                : AttentionProperties.Contains(error.Property) ? attention
                : RouterProperties.Contains(error.Property) || error.Property == "Vocab" ? router
                : ffn;
            var where = MoeLayerParser.ArgumentLocation(owner, error.Property == "Router" ? null : error.Property, ct) ?? identifier;
            diagnostics.Add(MoeLayerParser.Diag(error.Kind == SpecErrorKind.InvalidModelShape ? Descriptors.InvalidModelShape : MoeLayerParser.Descriptor(error.Kind), where, error.Message));
        }

        return new ModelParseResult(diagnostics.Count == 0 ? spec : null, new EquatableArray<DiagnosticInfo>(diagnostics));
    }
}
