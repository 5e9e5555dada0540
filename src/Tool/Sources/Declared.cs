using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Spec;
using Wudao.Generators;

namespace Wudao.Tool.Sources;

/// <summary>One declaration the tool reports on, named as the user wrote it.</summary>
/// <param name="Attribute">The attribute that declared it, as the user reads it (<c>MoeLayer</c>, <c>MoeTransformer</c>, …).</param>
/// <param name="Namespace">Its namespace, empty for the global one.</param>
/// <param name="ClassName">Its class.</param>
public abstract record Declared(string Attribute, string Namespace, string ClassName)
{
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;

    /// <summary>
    /// The declarations of <paramref name="found"/>, or the one <paramref name="name"/> picks (by
    /// class or full name; a model's MoE feed-forward answers to its generated class name too).
    /// </summary>
    public static IReadOnlyList<Declared> Select(Declarations found, string? name)
    {
        var all = found.Layers.Select(s => (Declared)new DeclaredLayer(s, "MoeLayer"))
            .Concat(found.Models.Select(s => new DeclaredModel(s)))
            .Concat(found.AttentionKernels.Select(s => new DeclaredAttention(s)))
            .ToList();
        if (name == null)
        {
            return all;
        }

        var candidates = all.Concat(found.Models.Select(m => new DeclaredLayer(m.Moe, $"MoeFeedForward of {m.ClassName}")));
        var match = candidates.Where(d => d.ClassName == name || d.FullName == name).ToList();
        if (match.Count == 0)
        {
            var names = all.Count == 0 ? "none" : string.Join(", ", all.Select(d => d.FullName));
            throw new ToolException($"no declaration named '{name}' (declared: {names})");
        }

        if (match.Count > 1)
        {
            throw new ToolException($"'{name}' names {match.Count} declarations ({string.Join(", ", match.Select(d => d.FullName))}); give the full name");
        }

        return match;
    }
}

/// <summary>A MoE layer: a [MoeLayer] class, or a model's MoE feed-forward.</summary>
public sealed record DeclaredLayer(MoeLayerSpec Spec, string Via) : Declared(Via, Spec.Namespace, Spec.ClassName);

/// <summary>A [MoeTransformer] model.</summary>
public sealed record DeclaredModel(ModelSpec Spec) : Declared("MoeTransformer", Spec.Namespace, Spec.ClassName);

/// <summary>An [AttentionKernel]: one fused op, no graph to plan.</summary>
public sealed record DeclaredAttention(AttentionKernelSpec Spec) : Declared("AttentionKernel", Spec.Namespace, Spec.ClassName);
