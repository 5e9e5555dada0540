using System;
using System.Linq;
using Wudao.Models;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>What a model promises beyond its logits: deterministic inference, its router's extras, refusals that change nothing.</summary>
public sealed class ModelBehaviourTests
{
    private static readonly int[] Ids = { 1, 5, 9, 14, 22, 39, 0 };

    [Fact]
    public void Models_infer_deterministically_and_train_with_noise_when_asked()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 2);
        using var lm = NoisyTinyLm.Create(session, seed: 4);

        Assert.False(lm.Training);
        var first = lm.Forward(Ids);
        Assert.Equal(first, lm.Forward(Ids)); // bit-identical: no noise at inference
        Assert.Equal(lm.Generate(Ids, 5, Sampling.Greedy), lm.Generate(Ids, 5, Sampling.Greedy));

        lm.Training = true;
        var noisy = lm.Forward(Ids);
        Assert.NotEqual(first, noisy);
        Assert.NotEqual(noisy, lm.Forward(Ids)); // each call draws new noise
    }

    [Fact]
    public void Deepseek_model_moves_every_block_bias_after_a_step()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = DeepSeekTinyLm.Create(session, seed: 8);
        Assert.Equal(2, lm.ExpertLoad.Length); // Every = 1: both blocks are MoE blocks

        lm.Forward(Enumerable.Range(0, 30).ToArray());
        lm.UpdateBalanceBias();

        for (var block = 0; block < 2; block++)
        {
            var load = lm.ExpertLoad[block].TokensPerExpert;
            var mean = load.Average(x => (double)x);
            var bias = lm.Weights[$"layers.{block}.moe.gate.bias"].Data;
            for (var e = 0; e < bias.Length; e++)
            {
                Assert.Equal(-0.05f * Math.Sign(load[e] - mean), bias[e]);
            }
        }
    }

    [Fact]
    public void A_refused_forward_keeps_the_cached_sequence()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(session, seed: 3);
        lm.Step(Ids);

        Assert.Throws<ArgumentException>(() => lm.Forward(new int[81]));
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.Step(new[] { 200 }));

        Assert.Equal(Ids.Length, lm.Length);
    }

    [Fact]
    public void A_step_that_fails_midway_rolls_every_cache_back()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(session, seed: 3);
        lm.Step(Ids);

        // White-box fault: block 1's MoE layer is gone, so a step fails after block 0 has already
        // appended to its cache.
        var moe = (IMoeLayer)typeof(TinyLm).GetField("_moe_l1_f", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(lm)!;
        moe.Dispose();
        Assert.ThrowsAny<Exception>(() => lm.Step(new[] { 4, 5 }));

        Assert.Equal(Ids.Length, lm.Length);
        var caches = new[] { "_cache_l0_att", "_cache_l1_att" }.Select(n => (Wudao.Attention.KvCache)typeof(TinyLm).GetField(n, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(lm)!);
        Assert.All(caches, c => Assert.Equal(Ids.Length, c.Length(0)));
    }

    [Fact]
    public void Generation_may_fill_the_cache_exactly()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(session, seed: 3);

        // 70 prompt tokens + 11 new: the last new token is never fed back, so 80 cached tokens suffice.
        Assert.Equal(11, lm.Generate(new int[70], 11, Sampling.Greedy).Length);
        Assert.Equal(80, lm.Length);
    }

    [Fact]
    public void Too_many_logits_for_one_call_are_refused_before_any_layer_runs()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelRuntime.CheckStep(20_000, 0, 1 << 20, 128_000, "Lm"));

        Assert.Contains("several Steps", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disposed_model_refuses_calls()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        var lm = TinyLm.Create(session, seed: 3);
        lm.Dispose();
        lm.Dispose();

        Assert.Throws<ObjectDisposedException>(() => lm.Step(Ids));
        Assert.Throws<ObjectDisposedException>(() => lm.Forward(Ids));
    }
}
