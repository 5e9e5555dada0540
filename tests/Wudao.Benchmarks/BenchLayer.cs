using Wudao;

namespace Wudao.Benchmarks;

/// <summary>The benchmark layer: T = 4096 tokens, d = 512, E = 16, k = 2, h = 2048, GELU, dropless top-2.</summary>
[MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048, Activation = Activation.Gelu)]
[Router(RouterKind.TopK)]
public partial class BenchLayer
{
    public const int Tokens = 4096;
}
