using Wudao.Compiler.Spec;
using SpecRouterKind = Wudao.Compiler.Spec.RouterKind;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>Values the declaration leaves out get the documented defaults in the spec and the generated Info.</summary>
public class DefaultTests
{
    [Fact]
    public void No_Router_attribute_means_the_dropless_TopK_router()
    {
        var (spec, source) = Generate("[MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 128)]");

        Assert.Equal(SpecRouterKind.TopK, spec.Router);
        Assert.Equal(0f, spec.CapacityFactor);
        Assert.Contains("global::Wudao.RouterKind.TopK, 0f, 0.01f,", source, System.StringComparison.Ordinal);
    }

    [Fact]
    public void GShard_without_a_factor_gets_capacity_1_25()
    {
        var (spec, source) = Generate("[MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 128)]\n[Router(RouterKind.GShard)]");

        Assert.Equal(SpecRouterKind.GShard, spec.Router);
        Assert.Equal(1.25f, spec.CapacityFactor);
        Assert.Contains("global::Wudao.RouterKind.GShard, 1.25f,", source, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Switch_without_a_factor_gets_capacity_1_25_and_TopK_defaults_to_1()
    {
        var (spec, source) = Generate("[MoeLayer(Dim = 64, Experts = 8, Hidden = 128)]\n[Router(RouterKind.Switch)]");

        Assert.Equal(1, spec.TopK);
        Assert.Equal(1.25f, spec.CapacityFactor);
        Assert.Contains("global::Wudao.RouterKind.Switch, 1.25f,", source, System.StringComparison.Ordinal);
        Assert.Contains("public const int K = 1;", source, System.StringComparison.Ordinal);
    }

    [Fact]
    public void An_explicit_factor_overrides_the_default()
    {
        var (spec, source) = Generate("[MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 128)]\n[Router(RouterKind.TopK, CapacityFactor = 2)]");

        Assert.Equal(2f, spec.CapacityFactor);
        Assert.Contains("global::Wudao.RouterKind.TopK, 2f,", source, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Activation_and_aux_loss_weight_default_to_Gelu_and_0_01()
    {
        var (spec, source) = Generate("[MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 128)]");

        Assert.Equal(ActivationKind.Gelu, spec.Activation);
        Assert.Equal(0.01f, spec.AuxLossWeight);
        Assert.Contains("global::Wudao.Activation.Gelu, global::Wudao.RouterKind.TopK", source, System.StringComparison.Ordinal);
    }

    private static (MoeLayerSpec Spec, string Source) Generate(string attributes)
    {
        var run = GeneratorHarness.Run($"using Wudao;\n\nnamespace N;\n\n{attributes}\npublic partial class L\n{{\n}}\n");

        Assert.Null(run.Exception);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.OutputErrors);
        var spec = Assert.IsType<MoeLayerSpec>(Assert.Single(run.StepOutputs(WudaoGenerator.SpecStep)).Value);
        return (spec, run.SourceText("N.L.Moe.g.cs"));
    }
}
