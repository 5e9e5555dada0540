using System;

namespace Wudao;

/// <summary>Normalisation of a transformer block (pre-norm, fused with the residual add).</summary>
public enum Norm
{
    /// <summary>x / sqrt(mean x² + ε) · γ (Llama, Mixtral, DeepSeek).</summary>
    RmsNorm = 0,

    /// <summary>(x − μ) / sqrt(σ² + ε) · γ + β (GPT-2, Switch Transformer).</summary>
    LayerNorm = 1,
}

/// <summary>How attention knows token positions.</summary>
public enum Position
{
    /// <summary>No position information (attention is permutation-equivariant without a mask).</summary>
    None = 0,

    /// <summary>Rotary embeddings on Q and K (rotate-half pairs (i, i + d/2), as HF Llama), applied as they are loaded.</summary>
    Rope = 1,
}

/// <summary>
/// Declares a decoder-only MoE transformer on a <c>partial class</c>; with <see cref="AttentionAttribute"/>
/// and <see cref="MoeFeedForwardAttribute"/> (and optionally <see cref="RouterAttribute"/>), Wudao's generator
/// compiles it and adds <c>Create</c>, <c>Load</c>, <c>Forward</c>, <c>Step</c>, <c>Generate</c> and <c>Info</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class MoeTransformerAttribute : Attribute
{
    /// <summary>Vocabulary size: token ids are in [0, Vocab).</summary>
    public int Vocab { get; set; }

    /// <summary>Model width d.</summary>
    public int Dim { get; set; }

    /// <summary>Transformer blocks.</summary>
    public int Layers { get; set; }

    /// <summary>Tokens the KV cache holds per sequence.</summary>
    public int MaxSequence { get; set; }

    /// <summary>Normalisation of every block (and the final norm). Default RMSNorm.</summary>
    public Norm Norm { get; set; } = Norm.RmsNorm;

    /// <summary>ε of the norms.</summary>
    public float NormEpsilon { get; set; } = 1e-5f;
}

/// <summary>The attention of every block of a <see cref="MoeTransformerAttribute"/> model.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class AttentionAttribute : Attribute
{
    /// <summary>Query heads; Dim / Heads is the head dimension, any multiple of 8.</summary>
    public int Heads { get; set; }

    /// <summary>Key/value heads (grouped-query attention); must divide Heads. 0 (default) = Heads.</summary>
    public int KvHeads { get; set; }

    /// <summary>Whether a token attends only to itself and earlier tokens. Default on.</summary>
    public bool Causal { get; set; } = true;

    /// <summary>How attention knows token positions. Default RoPE.</summary>
    public Position Position { get; set; } = Position.Rope;

    /// <summary>θ of RoPE's frequencies θ^(−2i/d).</summary>
    public float RopeBase { get; set; } = 10000f;

    /// <summary>
    /// RMS-normalise each query and key head before RoPE, with a γ of HeadDim per block
    /// (<c>layers.{i}.attn.q_norm.weight</c>, <c>k_norm</c>), as Qwen3-MoE and OLMoE do. Default off.
    /// </summary>
    public bool QkNorm { get; set; }
}

/// <summary>The MoE feed-forward of a <see cref="MoeTransformerAttribute"/> model; the other blocks run a dense one.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class MoeFeedForwardAttribute : Attribute
{
    /// <summary>Routed experts per MoE block.</summary>
    public int Experts { get; set; }

    /// <summary>Experts per token (not for the ExpertChoice router).</summary>
    public int TopK { get; set; } = 1;

    /// <summary>Hidden width of each expert.</summary>
    public int Hidden { get; set; }

    /// <summary>Activation of the experts' (and dense blocks') feed-forward. Default GELU.</summary>
    public Activation Activation { get; set; } = Activation.Gelu;

    /// <summary>Block i is a MoE block when i % Every == Every − 1 (2: every other block, as Switch and GShard); the others are dense.</summary>
    public int Every { get; set; } = 1;

    /// <summary>Hidden width of the dense blocks' feed-forward. 0 (default) = Hidden.</summary>
    public int DenseHidden { get; set; }

    /// <summary>α of the load-balancing loss of the softmax routers (TopK, Switch, GShard); the generator ignores the default for the others.</summary>
    public float AuxLossWeight { get; set; } = 0.01f;
}
