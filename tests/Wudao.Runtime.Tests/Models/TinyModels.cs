using Wudao;

namespace Wudao.Runtime.Tests.Models;

// Small models for the model tests: head dimension 32 (the smallest the attention kernels take),
// GQA, MoE every other block, odd vocabulary.

[MoeTransformer(Vocab = 97, Dim = 64, Layers = 2, MaxSequence = 80, Norm = Norm.RmsNorm)]
[Attention(Heads = 2, KvHeads = 1, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 48, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class TinyLm
{
}

[MoeTransformer(Vocab = 50, Dim = 64, Layers = 2, MaxSequence = 40, Norm = Norm.LayerNorm)]
[Attention(Heads = 2, Position = Position.None)]
[MoeFeedForward(Experts = 3, TopK = 1, Hidden = 40, Activation = Activation.Gelu)]
[Router(RouterKind.Switch, CapacityFactor = 2f)]
public partial class TinyLayerNormLm
{
}

[MoeTransformer(Vocab = 40, Dim = 64, Layers = 2, MaxSequence = 32)]
[Attention(Heads = 2, KvHeads = 2)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 32)]
[Router(RouterKind.NoisyTopK)]
public partial class NoisyTinyLm
{
}

[MoeTransformer(Vocab = 40, Dim = 64, Layers = 2, MaxSequence = 32)]
[Attention(Heads = 2, KvHeads = 1)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 32, Activation = Activation.Silu)]
[Router(RouterKind.DeepSeek, SharedExperts = 1, BiasUpdateRate = 0.05f)]
public partial class DeepSeekTinyLm
{
}

// GeGLU in both kinds of block: the dense feed-forward in block 0, the experts in block 1.
[MoeTransformer(Vocab = 40, Dim = 64, Layers = 2, MaxSequence = 32)]
[Attention(Heads = 2, KvHeads = 1)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 40, Activation = Activation.GeGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class GeGluTinyLm
{
}

// Per-head q/k RMSNorm before RoPE (Qwen3-MoE, OLMoE).
[MoeTransformer(Vocab = 40, Dim = 64, Layers = 2, MaxSequence = 32)]
[Attention(Heads = 2, KvHeads = 1, QkNorm = true)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 40, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class QkNormTinyLm
{
}

// GEMM widths off every device tile: a dense MLP 24 wide (the down projection's K = 24 is less
// than one K step) and 50 logits; room for a prefill past the 64-row tile.
[MoeTransformer(Vocab = 50, Dim = 64, Layers = 2, MaxSequence = 80)]
[Attention(Heads = 2, KvHeads = 1)]
[MoeFeedForward(Experts = 2, TopK = 1, Hidden = 32, DenseHidden = 24, Activation = Activation.Gelu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class OddGemmLm
{
}

// A vocabulary smaller than one 256-bit vector: the emitted greedy argmax has no vector loop.
[MoeTransformer(Vocab = 7, Dim = 64, Layers = 1, MaxSequence = 16)]
[Attention(Heads = 2, KvHeads = 1)]
[MoeFeedForward(Experts = 2, TopK = 1, Hidden = 32)]
[Router(RouterKind.TopK)]
public partial class TinyVocabLm
{
}
