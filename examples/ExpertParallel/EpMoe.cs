using Wudao;

namespace ExpertParallel;

/// <summary>The layer whose experts are spread over the ranks.</summary>
[MoeLayer(Dim = 256, Experts = 8, TopK = 2, Hidden = 512, Activation = Activation.Gelu)]
[Router(RouterKind.GShard, CapacityFactor = 1.25f)]
public partial class EpMoe
{
}
