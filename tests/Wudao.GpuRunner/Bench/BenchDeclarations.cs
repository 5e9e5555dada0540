using Wudao;
using Wudao.Models;

namespace Wudao.GpuRunner.Bench;

/// <summary>Mixtral 8x7B's MoE layer: d = 4096, 8 SwiGLU experts of h = 14336, top-2, dropless (5.6 GB of fp32 weights).</summary>
[MoeLayer(Dim = 4096, Experts = 8, TopK = 2, Hidden = 14336, Activation = Activation.SwiGlu)]
[Router(RouterKind.TopK)]
public partial class MixtralLayer
{
}

/// <summary>The CPU suite's benchmark layer (tests/Wudao.Benchmarks' BenchLayer): d = 512, E = 16, k = 2, h = 2048, GELU, dropless.</summary>
[MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048, Activation = Activation.Gelu)]
[Router(RouterKind.TopK)]
public partial class SuiteLayer
{
}

/// <summary>--quick's stand-in for <see cref="MixtralLayer"/>, small enough for ILGPU's CPU accelerator.</summary>
[MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 96, Activation = Activation.SwiGlu)]
[Router(RouterKind.TopK)]
public partial class QuickMixtralLayer
{
}

/// <summary>--quick's stand-in for <see cref="SuiteLayer"/>.</summary>
[MoeLayer(Dim = 32, Experts = 16, TopK = 2, Hidden = 64, Activation = Activation.Gelu)]
[Router(RouterKind.TopK)]
public partial class QuickSuiteLayer
{
}

/// <summary>The attention benchmark's kernel: head dim 128, emitted as a model's attention is.</summary>
[AttentionKernel(HeadDim = 128)]
public static partial class Attention128
{
}

/// <summary>The example model (examples/TinyMoeLm), declared again here: the decode benchmark measures what the example runs.</summary>
[MoeTransformer(Vocab = 4096, Dim = 256, Layers = 4, MaxSequence = 1024, Norm = Norm.RmsNorm)]
[Attention(Heads = 8, KvHeads = 2, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 8, TopK = 2, Hidden = 512, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class TinyMoeLm
{
}

/// <summary>--quick's stand-in for <see cref="TinyMoeLm"/>: the same layout, narrower.</summary>
[MoeTransformer(Vocab = 256, Dim = 64, Layers = 2, MaxSequence = 64, Norm = Norm.RmsNorm)]
[Attention(Heads = 2, KvHeads = 1, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 64, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class QuickLm
{
}
