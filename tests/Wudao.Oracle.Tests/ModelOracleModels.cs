using Wudao;

namespace Wudao.Oracle.Tests;

// The declared models the model oracle checks against libtorch: head dimension 32 (64/2 and
// 128/4), and 80 (160/2), which no fixed kernel had: the emitted one takes any multiple of 8.

/// <summary>TinyLm's shape over four blocks: RMSNorm, GQA (2 query heads on 1 kv head), RoPE, SwiGLU, MoE in blocks 1 and 3, dense in 0 and 2.</summary>
[MoeTransformer(Vocab = 97, Dim = 64, Layers = 4, MaxSequence = 64, Norm = Norm.RmsNorm)]
[Attention(Heads = 2, KvHeads = 1, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 48, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class OracleGqaSwiGluLm
{
}

/// <summary>
/// TinyLayerNormLm's kind over three blocks: LayerNorm, no positions, exact GELU, Switch routing with
/// capacity factor 2 in block 1, a wider dense MLP in blocks 0 and 2; 4 query heads on 2 kv heads,
/// so which query heads a kv head serves (consecutive ones) matters.
/// </summary>
[MoeTransformer(Vocab = 50, Dim = 128, Layers = 3, MaxSequence = 48, Norm = Norm.LayerNorm)]
[Attention(Heads = 4, KvHeads = 2, Position = Position.None)]
[MoeFeedForward(Experts = 3, TopK = 1, Hidden = 40, Activation = Activation.Gelu, Every = 2, DenseHidden = 56)]
[Router(RouterKind.Switch, CapacityFactor = 2f)]
public partial class OracleLayerNormGeluLm
{
}

/// <summary>Multi-head attention (kv heads = heads = 4), RoPE with θ = 500000, ε = 1e-6, every block MoE: 8 SiLU experts, top-2.</summary>
[MoeTransformer(Vocab = 71, Dim = 128, Layers = 3, MaxSequence = 48, Norm = Norm.RmsNorm, NormEpsilon = 1e-6f)]
[Attention(Heads = 4, KvHeads = 4, Causal = true, Position = Position.Rope, RopeBase = 500000f)]
[MoeFeedForward(Experts = 8, TopK = 2, Hidden = 32, Activation = Activation.Silu, Every = 1)]
[Router(RouterKind.TopK)]
public partial class OracleMhaAllMoeLm
{
}

/// <summary>GeGLU (Gemma/T5 style) in the dense block 0 and the MoE block 1; GQA, RoPE. Sequences up to 160 tokens: GEMMs over several row tiles.</summary>
[MoeTransformer(Vocab = 61, Dim = 64, Layers = 2, MaxSequence = 160)]
[Attention(Heads = 2, KvHeads = 1, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 40, Activation = Activation.GeGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class OracleGeGluLm
{
}

/// <summary>Qwen3-MoE / OLMoE style: each query and key head RMS-normalised (own γ) before RoPE; GQA 4/2, every block MoE.</summary>
[MoeTransformer(Vocab = 53, Dim = 128, Layers = 2, MaxSequence = 48, Norm = Norm.RmsNorm, NormEpsilon = 1e-6f)]
[Attention(Heads = 4, KvHeads = 2, Causal = true, Position = Position.Rope, QkNorm = true)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 48, Activation = Activation.SwiGlu, Every = 1)]
[Router(RouterKind.TopK)]
public partial class OracleQkNormLm
{
}

/// <summary>Head dimension 80 (Dim 160 over 2 query heads, 1 kv head): the attention kernel is emitted for it; RoPE, SwiGLU, MoE in block 1.</summary>
[MoeTransformer(Vocab = 67, Dim = 160, Layers = 2, MaxSequence = 80)]
[Attention(Heads = 2, KvHeads = 1, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 48, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class OracleHeadDim80Lm
{
}
