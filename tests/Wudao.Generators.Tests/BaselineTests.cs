using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>The generated layer source for representative declarations, compared with checked-in text.</summary>
public class BaselineTests
{
    [Fact]
    public void GShardGelu()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048, Activation = Activation.Gelu)]
            [Router(RouterKind.GShard, CapacityFactor = 1.25f)]
            public partial class MyMoe
            {
            }
            """;
        Check(nameof(GShardGelu), "N.MyMoe.Moe.g.cs", source);
    }

    [Fact]
    public void SwitchRelu()
    {
        const string source = """
            using Wudao;

            [MoeLayer(Dim = 256, Experts = 8, Hidden = 1024, Activation = Activation.Relu)]
            [Router(RouterKind.Switch, CapacityFactor = 1.5f)]
            internal partial class SwitchLayer
            {
            }
            """;
        Check(nameof(SwitchRelu), "SwitchLayer.Moe.g.cs", source);
    }

    [Fact]
    public void TopKSwiGlu()
    {
        const string source = """
            using Wudao;

            namespace Models.Mixtral;

            [MoeLayer(Dim = 128, Experts = 8, TopK = 3, Hidden = 384, Activation = Activation.SwiGlu, AuxLossWeight = 0.02f)]
            [Router(RouterKind.TopK)]
            public partial class MixtralMoe
            {
            }
            """;
        Check(nameof(TopKSwiGlu), "Models.Mixtral.MixtralMoe.Moe.g.cs", source);
    }

    [Fact]
    public void DeepSeekShared()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 96, Activation = Activation.SwiGlu)]
            [Router(RouterKind.DeepSeek, SharedExperts = 1, BiasUpdateRate = 0.001f)]
            public partial class DeepSeekMoe
            {
            }
            """;
        Check(nameof(DeepSeekShared), "N.DeepSeekMoe.Moe.g.cs", source);
    }

    [Fact]
    public void NoisyTopK()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 32, Experts = 4, TopK = 2, Hidden = 64)]
            [Router(RouterKind.NoisyTopK, ImportanceWeight = 0.1f, LoadWeight = 0.1f)]
            public partial class NoisyMoe
            {
            }
            """;
        Check(nameof(NoisyTopK), "N.NoisyMoe.Moe.g.cs", source);
    }

    [Fact]
    public void TinyModel()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeTransformer(Vocab = 1000, Dim = 64, Layers = 2, MaxSequence = 128)]
            [Attention(Heads = 2, KvHeads = 1)]
            [MoeFeedForward(Experts = 4, TopK = 2, Hidden = 96, Activation = Activation.SwiGlu, Every = 2)]
            public partial class TinyLm
            {
            }
            """;
        Check(nameof(TinyModel), "N.TinyLm.Model.g.cs", source);
    }

    private static void Check(string testName, string hintName, string source)
    {
        var run = GeneratorHarness.Run(source);

        Assert.Null(run.Exception);
        Assert.Empty(run.GeneratorDiagnostics);
        Baseline.Verify(testName, hintName, run.SourceText(hintName));
        Assert.Empty(run.OutputErrors);
    }
}
