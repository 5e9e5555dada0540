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
    public void A_layer_with_an_op_that_has_no_gradient_rule_says_which()
    {
        Assert.Equal("not differentiable yet: %importance = noisy_loss: no gradient rule is written for 'noisy_loss' yet, so the graph cannot be differentiated through it\n", NoisyTopK2.Info.TrainPlanText);
    }
}
