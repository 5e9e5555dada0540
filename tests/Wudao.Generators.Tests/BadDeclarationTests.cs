using System.Linq;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>Whatever is wrong with a declaration, the generator reports it and emits nothing, without throwing.</summary>
public class BadDeclarationTests
{
    public static TheoryData<string, string, string> Declarations => new()
    {
        { "WD0001", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public class L { }" },
        { "WD0002", "[MoeLayer(Dim = 0, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L { }" },
        { "WD0002", "[MoeLayer(Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L { }" },
        { "WD0003", "[MoeLayer(Dim = 64, Experts = 4, TopK = 5, Hidden = 128)]", "public partial class L { }" },
        { "WD0004", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128, Activation = (Activation)9)]", "public partial class L { }" },
        { "WD0005", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.Switch)]", "public partial class L { }" },
        { "WD0005", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.GShard, CapacityFactor = -1)]", "public partial class L { }" },
        { "WD0005", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router((RouterKind)7)]", "public partial class L { }" },
        { "WD0006", "[MoeLayer(Dim = 10000, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L { }" },
        { "WD0006", "[MoeLayer(Dim = 64, Experts = 5000, TopK = 2, Hidden = 128)]", "public partial class L { }" },
        { "WD0007", "public partial class Outer { [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L { } }" },
        { "WD0007", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L<T> { }" },
        { "WD0007", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public partial record L { }" },
        { "WD0009", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L { public static int Info => 1; }" },
        { "WD0009", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class L { public void Dispose() { } }" },
        { "WD0009", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]", "public partial class Kernels { }" },
        { "WD0010", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][ExpertParallel(Ranks = 3)]", "public partial class L { }" },
        { "WD0002", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][ExpertParallel(Ranks = -2)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.ExpertChoice)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 1, Hidden = 128)][Router(RouterKind.Hash)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.Hash, Vocab = 1000)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.TopK, SharedExperts = 2)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.Switch, ImportanceWeight = 0.1f)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128, AuxLossWeight = 0.1f)][Router(RouterKind.NoisyTopK)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.DeepSeek, Jitter = 0.1f)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, Hidden = 128)][Router(RouterKind.ExpertChoice, CapacityFactor = 0)]", "public partial class L { }" },
        { "WD0011", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.ExpertChoice)][ExpertParallel(Ranks = 2)]", "public partial class L { }" },
        { "WD0005", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.DeepSeek, BiasUpdateRate = -0.001f)]", "public partial class L { }" },
        { "WD0005", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.NoisyTopK, LoadWeight = -1)]", "public partial class L { }" },
        { "WD0002", "[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)][Router(RouterKind.DeepSeek, SharedExperts = -1)]", "public partial class L { }" },
        { "WD0012", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { }" },
        { "WD0012", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)]", "public partial class M { }" },
        { "WD0013", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 3)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { }" },
        { "WD0013", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2, KvHeads = 3)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { }" },
        { "WD0002", "[MoeTransformer(Vocab = 0, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { }" },
        { "WD0003", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, TopK = 5, Hidden = 64)]", "public partial class M { }" },
        { "WD0011", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, TopK = 2, Hidden = 64)][Router(RouterKind.ExpertChoice)]", "public partial class M { }" },
        { "WD0009", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { public void Generate() { } }" },
        { "WD0009", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { public int Sample(int x) => x; }" },
        { "WD0009", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { public int Next(int x) => x; }" },
        { "WD0001", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public class M { }" },
        { "WD0007", "public class MMoe { }\n[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)]", "public partial class M { }" },
        { "WD0011", "[MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)][Attention(Heads = 2)][MoeFeedForward(Experts = 4, Hidden = 64)][Router(RouterKind.ExpertChoice)]", "public partial class M { }" },
        { "WD0006", "[MoeLayer(Dim = 64, Experts = 4000, TopK = 2, Hidden = 128)][Router(RouterKind.NoisyTopK)]", "public partial class L { }" },
        { "WD0013", "[AttentionKernel(HeadDim = 20)]", "public static partial class A { }" },
        { "WD0013", "[AttentionKernel]", "public static partial class A { }" },
        { "WD0001", "[AttentionKernel(HeadDim = 64)]", "public static class A { }" },
        { "WD0009", "[AttentionKernel(HeadDim = 64)]", "public static partial class A { public static void Forward() { } }" },
        { "WD0007", "public partial class Outer { [AttentionKernel(HeadDim = 64)]", "public static partial class A { } }" },
    };

    [Theory]
    [MemberData(nameof(Declarations))]
    public void Bad_declaration_reports_its_id_and_generates_nothing(string id, string attributes, string declaration)
    {
        var source = $"using Wudao;\n\nnamespace N;\n\n{attributes}\n{declaration}\n";
        var run = GeneratorHarness.Run(source);

        Assert.Null(run.Exception);
        Assert.Empty(run.Sources);
        Assert.Contains(run.GeneratorDiagnostics, d => d.Id == id);
        Assert.All(run.GeneratorDiagnostics, d => Assert.StartsWith("WD", d.Id, System.StringComparison.Ordinal));
        // The input itself is valid C#: only the generator objects to it.
        Assert.Empty(run.OutputErrors);
        Assert.DoesNotContain(run.GeneratorDiagnostics.Select(d => d.Id), i => i == "WD0008");
    }
}
