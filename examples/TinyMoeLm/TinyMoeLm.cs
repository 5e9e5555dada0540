using Wudao;

namespace TinyMoeLmExample;

/// <summary>A decoder-only MoE transformer in four attributes: the rest is generated.</summary>
[MoeTransformer(Vocab = 4096, Dim = 256, Layers = 4, MaxSequence = 1024, Norm = Norm.RmsNorm)]
[Attention(Heads = 8, KvHeads = 2, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 8, TopK = 2, Hidden = 512, Activation = Activation.SwiGlu, Every = 2)] // dense FFN in the other blocks
[Router(RouterKind.TopK)]
public partial class TinyMoeLm
{
}
