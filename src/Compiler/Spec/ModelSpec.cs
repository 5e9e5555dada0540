namespace Wudao.Compiler.Spec;

/// <summary>Normalisation of a transformer block. Values match <c>Wudao.Norm</c> in the runtime.</summary>
public enum NormKind
{
    RmsNorm = 0,
    LayerNorm = 1,
}

/// <summary>Position information. Values match <c>Wudao.Position</c> in the runtime.</summary>
public enum PositionKind
{
    None = 0,
    Rope = 1,
}

/// <summary>
/// A declared decoder-only MoE transformer: embeddings, pre-norm blocks (attention, then a MoE
/// feed-forward every <see cref="Every"/>-th block and a dense one otherwise), final norm, LM head.
/// Only primitives, strings and records of them, so equality is value equality.
/// </summary>
/// <param name="Moe">The MoE feed-forward, compiled as its own layer class (<see cref="MoeLayerSpec.ClassName"/>).</param>
/// <param name="Every">Block i uses the MoE feed-forward when i % Every == Every − 1.</param>
/// <param name="DenseHidden">Hidden width of the dense feed-forward blocks.</param>
/// <param name="QkNorm">Each query and key head is RMS-normalised (its own γ per block) before RoPE (Qwen3-MoE, OLMoE).</param>
public sealed record ModelSpec(
    string Namespace,
    string ClassName,
    string Accessibility,
    int Vocab,
    int Dim,
    int Layers,
    int MaxSequence,
    NormKind Norm,
    float NormEpsilon,
    int Heads,
    int KvHeads,
    bool Causal,
    PositionKind Position,
    float RopeBase,
    MoeLayerSpec Moe,
    int Every,
    int DenseHidden,
    bool QkNorm = false)
{
    /// <summary>Every head dimension that is a multiple of this is emitted as a constant; the kernels work in whole 256-bit vectors.</summary>
    public const int HeadDimMultiple = 8;

    public int HeadDim => Heads > 0 ? Dim / Heads : 0;

    /// <summary>Width of the fused Q, K and V projection: Heads + 2·KvHeads heads.</summary>
    public int QkvWidth => (Heads + (2 * KvHeads)) * HeadDim;

    public bool IsMoe(int layer) => layer % Every == Every - 1;

    /// <summary>Width of the dense feed-forward's first GEMM: SwiGLU computes gate and up halves.</summary>
    public int DenseHiddenIn => (Ir.Activations.ByValue((int)Moe.Activation)?.Width ?? 1) * DenseHidden;
}
