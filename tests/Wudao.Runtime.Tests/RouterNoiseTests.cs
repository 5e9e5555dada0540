using System;
using System.Linq;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Noisy top-k's ε source and what the generated router layers declare about themselves.</summary>
public sealed class RouterNoiseTests
{
    [Fact]
    public void Counter_normal_is_a_standard_normal_and_a_pure_function_of_its_counter()
    {
        // 200 000 draws: mean within 0.01 (5 standard errors), variance within 0.02 of 1,
        // P(|z| < 1) within 0.005 of 0.6827, P(|z| < 2) of 0.9545; all finite.
        const int n = 200_000;
        var seed = new CounterSeed(42);
        var z = Enumerable.Range(0, n).Select(i => (double)CounterRng.Normal(seed.Lo, seed.Hi ^ CounterRng.NoiseStream, 3, i)).ToArray();

        Assert.All(z, v => Assert.True(double.IsFinite(v)));
        var mean = z.Average();
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(z.Sum(v => (v - mean) * (v - mean)) / (n - 1), 0.98, 1.02);
        Assert.InRange(z.Count(v => Math.Abs(v) < 1) / (double)n, 0.6777, 0.6877);
        Assert.InRange(z.Count(v => Math.Abs(v) < 2) / (double)n, 0.9495, 0.9595);

        Assert.Equal(z[17], CounterRng.Normal(seed.Lo, seed.Hi ^ CounterRng.NoiseStream, 3, 17));
        Assert.NotEqual(z[17], CounterRng.Normal(seed.Lo, seed.Hi ^ CounterRng.NoiseStream, 4, 17));
        Assert.NotEqual(z[17], CounterRng.Normal(seed.Lo, seed.Hi, 3, 17));
    }

    [Fact]
    public void Layers_report_the_router_options_they_declare()
    {
        Assert.Equal(RouterKind.NoisyTopK, NoisyTop3ReluTight.Info.Router);
        Assert.Equal(new RouterOptions(0.05f, 0.2f, 0, 0f, 0), NoisyTop3ReluTight.Info.Options);
        Assert.Equal(new[] { 6, 3 }, NoisyTop3ReluTight.Info.Weights.Single(w => w.Name == "gate.noise").Shape);
        Assert.Equal(0f, NoisyTop3ReluTight.Info.AuxLossWeight);

        Assert.Equal(4, ExpertChoiceSilu.Info.Choices);
        Assert.Equal(2f, ExpertChoiceSilu.Info.CapacityFactor);
        Assert.Equal(0.5f, ExpertChoiceReluHalf.Info.CapacityFactor);

        Assert.Equal(100, HashRelu.Info.Options.Vocab);
        Assert.Equal(1, HashRelu.Info.TopK);
        Assert.Equal(new[] { "experts.b1", "experts.b2", "experts.w1", "experts.w2" }, HashRelu.Info.Weights.Select(w => w.Name).Order());

        // DeepSeek: 2 routed choices + 2 shared; the FFN holds E + S = 6 experts, the bias E.
        var deepSeek = DeepSeekTwoSharedCapped.Info;
        Assert.Equal(new RouterOptions(0f, 0f, 2, 0.05f, 0), deepSeek.Options);
        Assert.Equal(4, deepSeek.Choices);
        Assert.Equal(6, deepSeek.FfnExperts);
        Assert.Equal(new[] { 6, 7, 9 }, deepSeek.Weights.Single(w => w.Name == "experts.w1").Shape);
        Assert.Equal(new[] { 4 }, deepSeek.Weights.Single(w => w.Name == "gate.bias").Shape);
        Assert.Equal(new[] { 7, 4 }, deepSeek.Weights.Single(w => w.Name == "gate.weight").Shape);
        Assert.Equal(0, DeepSeekNoShared.Info.Options.SharedExperts);
        Assert.Equal(new[] { 5, 5, 6 }, DeepSeekNoShared.Info.Weights.Single(w => w.Name == "experts.w1").Shape);
        Assert.Equal(1, DeepSeekSwiGlu.Info.Options.SharedExperts);
    }
}
