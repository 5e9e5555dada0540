using System.Linq;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

public class SpecValidatorTests
{
    private static SpecError Single(MoeLayerSpec spec) => Assert.Single(SpecValidator.Validate(spec));

    [Theory]
    [InlineData(RouterKind.TopK, ActivationKind.Gelu)]
    [InlineData(RouterKind.Switch, ActivationKind.Relu)]
    [InlineData(RouterKind.GShard, ActivationKind.SwiGlu)]
    public void Valid_specs_have_no_errors(RouterKind router, ActivationKind activation)
    {
        Assert.Empty(SpecValidator.Validate(TestSpecs.Make(router, activation)));
        Assert.Empty(SpecValidator.Validate(TestSpecs.Make(router, activation, dim: SpecValidator.MaxDim, capacityFactor: 0f, auxLossWeight: 0f)));
    }

    [Theory]
    [InlineData("Dim")]
    [InlineData("Experts")]
    [InlineData("Hidden")]
    public void Zero_size_is_non_positive(string property)
    {
        var spec = property switch
        {
            "Dim" => TestSpecs.Make(dim: 0),
            "Experts" => TestSpecs.Make(RouterKind.TopK, topK: 1, experts: 0),
            _ => TestSpecs.Make(hidden: -3),
        };

        var error = Single(spec);

        Assert.Equal(SpecErrorKind.NonPositiveSize, error.Kind);
        Assert.Equal(property, error.Property);
    }

    [Fact]
    public void TopK_above_experts_is_reported_on_TopK()
    {
        var error = Single(TestSpecs.Make(RouterKind.TopK, experts: 2, topK: 3));

        Assert.Equal(new SpecError(SpecErrorKind.TopKExceedsExperts, "TopK", "TopK = 3 exceeds Experts = 2: a token cannot choose more experts than exist"), error);
    }

    [Theory]
    [InlineData(RouterKind.Switch, 2, "one expert")]
    [InlineData(RouterKind.GShard, 1, "two experts")]
    [InlineData(RouterKind.TopK, 5, "k = 1..4, got 5")]
    public void Router_rejects_an_unsupported_TopK(RouterKind router, int topK, string phrase)
    {
        var error = Single(TestSpecs.Make(router, experts: 8, topK: topK));

        Assert.Equal(SpecErrorKind.UnsupportedRouterOption, error.Kind);
        Assert.Equal("TopK", error.Property);
        Assert.Contains(phrase, error.Message);
    }

    [Fact]
    public void Unknown_router_value_is_reported_on_Router()
    {
        var error = Single(TestSpecs.Make((RouterKind)7, topK: 2));

        Assert.Equal((SpecErrorKind.UnsupportedRouterOption, "Router"), (error.Kind, error.Property));
    }

    [Theory]
    [InlineData(-0.5f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Capacity_factor_must_be_finite_and_non_negative(float factor)
    {
        var error = Single(TestSpecs.Make(capacityFactor: factor));

        Assert.Equal((SpecErrorKind.UnsupportedRouterOption, "CapacityFactor"), (error.Kind, error.Property));
    }

    [Theory]
    [InlineData(-0.01f)]
    [InlineData(float.NaN)]
    public void Aux_loss_weight_must_be_finite_and_non_negative(float weight)
    {
        var error = Single(TestSpecs.Make(auxLossWeight: weight));

        Assert.Equal((SpecErrorKind.UnsupportedRouterOption, "AuxLossWeight"), (error.Kind, error.Property));
    }

    [Fact]
    public void Dim_above_the_maximum_is_too_large()
    {
        var error = Single(TestSpecs.Make(dim: SpecValidator.MaxDim + 1));

        Assert.Equal((SpecErrorKind.SizeTooLarge, "Dim"), (error.Kind, error.Property));
        Assert.Contains("8193", error.Message);
    }

    [Fact]
    public void Experts_above_the_maximum_are_too_large()
    {
        var error = Single(TestSpecs.Make(experts: SpecValidator.MaxExperts + 1));

        Assert.Equal((SpecErrorKind.SizeTooLarge, "Experts"), (error.Kind, error.Property));
        Assert.Contains("4097", error.Message);
    }

    [Fact]
    public void Activation_out_of_range_is_unsupported()
    {
        var error = Single(TestSpecs.Make(activation: (ActivationKind)9));

        Assert.Equal((SpecErrorKind.UnsupportedActivation, "Activation"), (error.Kind, error.Property));
        Assert.Contains("9", error.Message);
    }

    [Fact]
    public void All_errors_are_reported_together()
    {
        var spec = new MoeLayerSpec("N", "L", "public", 0, 8, 1, -1, (ActivationKind)9, RouterKind.GShard, float.NaN, -1f);

        var errors = SpecValidator.Validate(spec);

        Assert.Equal(
            new[] { "Dim", "Hidden", "Activation", "TopK", "CapacityFactor", "AuxLossWeight" },
            errors.Select(e => e.Property));
        Assert.Equal(
            new[] { SpecErrorKind.NonPositiveSize, SpecErrorKind.NonPositiveSize, SpecErrorKind.UnsupportedActivation, SpecErrorKind.UnsupportedRouterOption, SpecErrorKind.UnsupportedRouterOption, SpecErrorKind.UnsupportedRouterOption },
            errors.Select(e => e.Kind));
    }

    [Fact]
    public void Compile_throws_the_first_error_on_an_invalid_spec()
    {
        var ex = Assert.Throws<CompileException>(() => MoeCompiler.Compile(TestSpecs.Make(dim: 0, capacityFactor: -1f)));

        Assert.Equal("Dim = 0 must be positive", ex.Message);
    }

    [Fact]
    public void Defaults_and_derived_widths_follow_the_router_and_activation()
    {
        Assert.Equal(0f, MoeLayerSpec.DefaultCapacityFactor(RouterKind.TopK));
        Assert.Equal(1.25f, MoeLayerSpec.DefaultCapacityFactor(RouterKind.Switch));
        Assert.Equal(1.25f, MoeLayerSpec.DefaultCapacityFactor(RouterKind.GShard));
        Assert.Equal(96, TestSpecs.Make(activation: ActivationKind.SwiGlu, hidden: 48).HiddenIn);
        Assert.Equal(48, TestSpecs.Make(activation: ActivationKind.Silu, hidden: 48).HiddenIn);
    }
}
