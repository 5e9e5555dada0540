using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// A declared layer's Backward on the native target against central finite differences of its
/// own Forward (L = Σ out·dOut + every auxiliary loss, as Stats.Losses reports them), in fp32, with loose tolerances: an
/// independent check of the wiring (tape, seeds, every gradient bound to the right weight) for
/// every router. The tight check against libtorch autograd is in the oracle tests.
/// </summary>
[Collection(NativeCollection.Name)]
public sealed class BackwardTests
{
    private readonly Session _session;

    public BackwardTests(NativeSession native) => _session = native.Session;

    /// <summary>Layers by name: their info and a factory (weights, routing seed).</summary>
    private static readonly Dictionary<string, (MoeLayerInfo Info, Func<Session, MoeWeights, ulong, IMoeLayer> Create)> Trainable = new()
    {
        [nameof(TopK2Gelu)] = (TopK2Gelu.Info, (s, w, r) => TopK2Gelu.Create(s, w, r)),
        [nameof(GShardSilu)] = (GShardSilu.Info, (s, w, r) => GShardSilu.Create(s, w, r)),
        [nameof(TopK3SwiGlu)] = (TopK3SwiGlu.Info, (s, w, r) => TopK3SwiGlu.Create(s, w, r)),
        [nameof(SwitchRelu)] = (SwitchRelu.Info, (s, w, r) => SwitchRelu.Create(s, w, r)),
        [nameof(ExpertChoiceSilu)] = (ExpertChoiceSilu.Info, (s, w, r) => ExpertChoiceSilu.Create(s, w, r)),
        [nameof(DeepSeekSwiGlu)] = (DeepSeekSwiGlu.Info, (s, w, r) => DeepSeekSwiGlu.Create(s, w, r)),
        [nameof(DeepSeekTwoSharedCapped)] = (DeepSeekTwoSharedCapped.Info, (s, w, r) => DeepSeekTwoSharedCapped.Create(s, w, r)),
        [nameof(HashGeluCapped)] = (HashGeluCapped.Info, (s, w, r) => HashGeluCapped.Create(s, w, r)),
    };

    [Theory]
    [InlineData(nameof(TopK2Gelu), 7)]
    [InlineData(nameof(GShardSilu), 9)]
    [InlineData(nameof(TopK3SwiGlu), 5)]
    [InlineData(nameof(SwitchRelu), 6)]
    [InlineData(nameof(ExpertChoiceSilu), 8)]
    [InlineData(nameof(DeepSeekSwiGlu), 7)]
    [InlineData(nameof(DeepSeekTwoSharedCapped), 9)]
    [InlineData(nameof(HashGeluCapped), 10)]
    public void Backward_matches_finite_differences_of_forward(string name, int tokens)
    {
        var (info, create) = Trainable[name];
        var weights = MoeWeights.Random(info, 3);
        var x = Enumerable.Range(0, tokens * info.Dim).Select(i => MathF.Sin((i * 0.37f) + 0.1f)).ToArray();
        var dOut = Enumerable.Range(0, tokens * info.Dim).Select(i => MathF.Cos(i * 0.21f)).ToArray();
        var ids = RouterLayers.Ids(info, tokens, seed: 5);

        using var layer = create(_session, weights, 3);
        layer.RequiresGrad = true;
        using var input = _session.Upload(x, tokens, info.Dim);
        using (RouterLayer.Run(layer, input, ids))
        {
        }

        using var dOutput = _session.Upload(dOut, tokens, info.Dim);
        using var dx = layer.Backward(dOutput);
        var analytic = dx.ToArray();

        // The loss from a fresh layer (step 0, the same routing draws) on the given weights and input.
        float Loss(MoeWeights w, float[] xs)
        {
            using var fresh = create(_session, w, 3);
            using var xi = _session.Upload(xs, tokens, info.Dim);
            using var r = RouterLayer.Run(fresh, xi, ids);
            return r.Output.ToArray().Select((v, i) => v * dOut[i]).Sum() + r.Stats.Losses.Values.Sum();
        }

        const float h = 1e-2f;
        for (var i = 0; i < x.Length; i += 3)
        {
            var plus = (float[])x.Clone();
            var minus = (float[])x.Clone();
            plus[i] += h;
            minus[i] -= h;
            Near(analytic[i], (Loss(weights, plus) - Loss(weights, minus)) / (2 * h), $"{name}: dL/dx[{i}]");
        }

        foreach (var w in info.Weights)
        {
            var data = weights[w.Name].Data;
            var grad = layer.Gradients[w.Name].Data;
            var untrained = layer.NoGradient.Contains(w.Name);
            for (var i = 0; i < data.Length; i += Math.Max(1, data.Length / 7))
            {
                var keep = data[i];
                data[i] = keep + h;
                var up = Loss(weights, x);
                data[i] = keep - h;
                var down = Loss(weights, x);
                data[i] = keep;
                if (untrained)
                {
                    Assert.Equal(0f, grad[i]);
                    continue;
                }

                Near(grad[i], (up - down) / (2 * h), $"{name}: dL/d{w.Name}[{i}]");
            }
        }
    }

    [Fact]
    public void A_layer_whose_backward_is_not_emitted_yet_says_which_op_is_missing()
    {
        using var layer = NoisyTop2Gelu.Create(_session, seed: 1);
        var e = Assert.Throws<NotSupportedException>(() => layer.RequiresGrad = true);
        Assert.StartsWith("NoisyTop2Gelu cannot train yet: the native backward cannot be emitted yet: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("has no fragment for", e.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => layer.Backward(_session.Upload(new float[8], 1, 8)));
    }

    [Fact]
    public void DeepSeek_balance_bias_gets_no_gradient_and_no_optimizer_update()
    {
        using var layer = DeepSeekSwiGlu.Create(_session, seed: 2);
        Assert.Equal(new[] { "gate.bias" }, layer.NoGradient);
        var bias = layer.Weights["gate.bias"].Data.ToArray();
        var optimizer = layer.CreateOptimizer(new AdamW(weightDecay: 0.5f));
        Assert.DoesNotContain("gate.bias", optimizer.Trainable);
        optimizer.Step();
        Assert.Equal(bias, layer.Weights["gate.bias"].Data);
    }

    private static void Near(float analytic, float numeric, string what) =>
        Assert.True(MathF.Abs(numeric - analytic) <= 2e-2f * MathF.Max(1f, MathF.Abs(numeric)), $"{what} = {analytic} by backward, {numeric} by finite differences");
}
