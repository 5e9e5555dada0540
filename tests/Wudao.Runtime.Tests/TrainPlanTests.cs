using System;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The derived backward a declared layer carries in its Info: what a user reads before training.</summary>
public sealed class TrainPlanTests
{
    [Fact]
    public void A_declared_layer_shows_the_backward_the_compiler_derived()
    {
        var text = GShardSilu.Info.TrainPlanText;

        Assert.StartsWith("backward GShardSilu: seeds %d_out: f32[T,10], %d_aux: f32[]\n", text, StringComparison.Ordinal);
        Assert.Contains("  recomputed: %a = silu %hb : f32[S,70]", text, StringComparison.Ordinal);
        Assert.Contains("  %d_hb = silu_grad %hb, %d_a : f32[S,70]", text, StringComparison.Ordinal);
        Assert.Contains("plan GShardSilu_backward (12 kernels, 1 host sync per call)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Noisy_top_k_seeds_its_backward_with_both_balance_losses()
    {
        var text = NoisyTopK2.Info.TrainPlanText;

        Assert.StartsWith("backward NoisyTopK2: seeds %d_out: f32[T,8], %d_importance: f32[], %d_load: f32[]\n", text, StringComparison.Ordinal);
        Assert.Contains("load_prob_grad", text, StringComparison.Ordinal);
        Assert.Contains("noisy_grad", text, StringComparison.Ordinal);
    }
}
