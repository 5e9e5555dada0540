using Wudao;

namespace Wudao.Runtime.Tests;

// Small layers, one per router and activation: the CPU accelerator simulates every thread, so
// kernel tests keep shapes tiny. Dims are chosen to not divide the tile sizes.

[MoeLayer(Dim = 8, Experts = 4, TopK = 2, Hidden = 16, Activation = Activation.Gelu)]
[Router(RouterKind.TopK)]
public partial class TopK2Gelu
{
}

[MoeLayer(Dim = 5, Experts = 6, TopK = 4, Hidden = 7, Activation = Activation.Relu)]
[Router(RouterKind.TopK, CapacityFactor = 0.75f)]
public partial class TopK4Relu
{
}

[MoeLayer(Dim = 6, Experts = 1, TopK = 1, Hidden = 9, Activation = Activation.Silu)]
public partial class SingleExpertSilu
{
}

[MoeLayer(Dim = 12, Experts = 4, TopK = 1, Hidden = 10, Activation = Activation.Relu, AuxLossWeight = 0.1f)]
[Router(RouterKind.Switch, CapacityFactor = 1.0f)]
public partial class SwitchRelu
{
}

[MoeLayer(Dim = 10, Experts = 3, TopK = 2, Hidden = 70, Activation = Activation.Silu)]
[Router(RouterKind.GShard, CapacityFactor = 1.0f)]
public partial class GShardSilu
{
}

[MoeLayer(Dim = 6, Experts = 5, TopK = 3, Hidden = 10, Activation = Activation.SwiGlu)]
[Router(RouterKind.TopK, CapacityFactor = 1.5f)]
public partial class TopK3SwiGlu
{
}

// GeGLU: added as one registry entry; hidden 11 leaves a scalar tail after the vector loops.
[MoeLayer(Dim = 9, Experts = 4, TopK = 2, Hidden = 11, Activation = Activation.GeGlu)]
[Router(RouterKind.TopK)]
public partial class TopK2GeGlu
{
}

[MoeLayer(Dim = 4, Experts = 4, TopK = 1, Hidden = 4)]
[ExpertParallel(Ranks = 2)]
public partial class DeclaredTwoRanks
{
}

[MoeLayer(Dim = 12, Experts = 4, TopK = 1, Hidden = 10, Activation = Activation.Relu)]
[Router(RouterKind.Switch, CapacityFactor = 1.0f, Jitter = 0.2f, ZLossWeight = 0.01f)]
public partial class SwitchJitterZ
{
}

[MoeLayer(Dim = 8, Experts = 4, TopK = 2, Hidden = 12, Activation = Activation.Relu)]
[Router(RouterKind.NoisyTopK, ImportanceWeight = 0.1f, LoadWeight = 0.1f)]
public partial class NoisyTopK2
{
}

[MoeLayer(Dim = 7, Experts = 3, Hidden = 10, Activation = Activation.Gelu)]
[Router(RouterKind.ExpertChoice, CapacityFactor = 1.5f)]
public partial class ExpertChoiceLayer
{
}

[MoeLayer(Dim = 6, Experts = 5, TopK = 1, Hidden = 9, Activation = Activation.Silu)]
[Router(RouterKind.Hash, Vocab = 100)]
public partial class HashLayer
{
}

[MoeLayer(Dim = 8, Experts = 6, TopK = 2, Hidden = 10, Activation = Activation.SwiGlu)]
[Router(RouterKind.DeepSeek, SharedExperts = 1, BiasUpdateRate = 0.01f)]
public partial class DeepSeekLayer
{
}
