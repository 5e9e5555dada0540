using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Wudao.Compiler.Spec;

namespace Wudao.Generators;

/// <summary>What the generator read from one compilation: the spec of every valid declaration, and every diagnostic it reported.</summary>
public sealed class Declarations
{
    internal Declarations(IReadOnlyList<MoeLayerSpec> layers, IReadOnlyList<ModelSpec> models, IReadOnlyList<AttentionKernelSpec> attentionKernels, IReadOnlyList<Diagnostic> diagnostics)
    {
        Layers = layers;
        Models = models;
        AttentionKernels = attentionKernels;
        Diagnostics = diagnostics;
    }

    /// <summary>Valid [MoeLayer] declarations, in source order.</summary>
    public IReadOnlyList<MoeLayerSpec> Layers { get; }

    /// <summary>Valid [MoeTransformer] declarations, in source order.</summary>
    public IReadOnlyList<ModelSpec> Models { get; }

    /// <summary>Valid [AttentionKernel] declarations, in source order.</summary>
    public IReadOnlyList<AttentionKernelSpec> AttentionKernels { get; }

    /// <summary>The WD diagnostics a build would report for these sources (a declaration with an error has no spec).</summary>
    public IReadOnlyList<Diagnostic> Diagnostics { get; }

    public int Count => Layers.Count + Models.Count + AttentionKernels.Count;
}
