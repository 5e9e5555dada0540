using Wudao;

namespace Routing;

// One layer per router, same sizes, so their tables compare directly.

[MoeLayer(Dim = 128, Experts = 8, TopK = 2, Hidden = 256)]
[Router(RouterKind.TopK)]
public partial class TopKMoe
{
}

[MoeLayer(Dim = 128, Experts = 8, TopK = 1, Hidden = 256)]
[Router(RouterKind.Switch, CapacityFactor = 1.25f, Jitter = 0.01f, ZLossWeight = 0.001f)]
public partial class SwitchMoe
{
}

[MoeLayer(Dim = 128, Experts = 8, TopK = 2, Hidden = 256)]
[Router(RouterKind.GShard, CapacityFactor = 1.25f)]
public partial class GShardMoe
{
}

[MoeLayer(Dim = 128, Experts = 8, TopK = 2, Hidden = 256)]
[Router(RouterKind.NoisyTopK, ImportanceWeight = 0.1f, LoadWeight = 0.1f)]
public partial class NoisyMoe
{
}

[MoeLayer(Dim = 128, Experts = 8, Hidden = 256)]
[Router(RouterKind.ExpertChoice, CapacityFactor = 2f)]
public partial class ExpertChoiceMoe
{
}

[MoeLayer(Dim = 128, Experts = 8, TopK = 1, Hidden = 256)]
[Router(RouterKind.Hash, Vocab = 32000)]
public partial class HashMoe
{
}

[MoeLayer(Dim = 128, Experts = 8, TopK = 2, Hidden = 256)]
[Router(RouterKind.DeepSeek, SharedExperts = 1, BiasUpdateRate = 0.01f)]
public partial class DeepSeekMoe
{
}
