using Wudao;

namespace QuickStart;

/// <summary>The whole model declaration: Wudao's generator writes the rest of this class.</summary>
[MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048, Activation = Activation.Gelu)]
[Router(RouterKind.GShard, CapacityFactor = 1.25f)]
public partial class MyMoe
{
}
