using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using Wudao.Runtime.Tests;
using Xunit;
using Xunit.Sdk;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>
/// The gradient oracles (<see cref="TorchMoe.Gradients"/>, <see cref="TorchRouters.NoisyTopKGradients"/>)
/// checked on their own terms: their forward values are the forward oracles', their autograd
/// gradients agree with float64 central finite differences of the same graph under the same
/// routing decisions (and with the float32 entry points), and an expert with no rows learns nothing.
/// </summary>
[Collection(OracleCollection.Name)]
public sealed class TorchMoeGradientTests
{
    /// <summary>The weight of the aux loss in L; not 1, so a gradient that ignores it (or counts it twice) shows.</summary>
    private const float DAux = 0.7f;

    /// <summary>
    /// Central-difference step and tolerance, float64: truncation is about h²/6·|L'''| (~1e-9 here)
    /// and rounding about 1e-16·|L|/h (~1e-12), so |fd − autograd| ≤ 1e-7 + 1e-6·|autograd| leaves
    /// a wide margin while any wrong term (a missed gate, aux or renormalisation path) is O(1e-2) or more.
    /// </summary>
    private const double H = 1e-4, FdAtol = 1e-7, FdRtol = 1e-6;

    private static readonly IReadOnlyDictionary<string, (MoeLayerInfo Info, ulong Seed)> Layers =
        new Dictionary<string, (MoeLayerInfo, ulong)>
        {
            [nameof(GradTopK2SwiGlu)] = (GradTopK2SwiGlu.Info, 41),
            [nameof(GradSwitchSilu)] = (GradSwitchSilu.Info, 42),
            [nameof(GradGShardGeluOverflow)] = (GradGShardGeluOverflow.Info, 43),
        }.Concat(OracleLayers.All.Select(kv => KeyValuePair.Create(kv.Key, (kv.Value.Info, kv.Value.Seed))))
         .ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>Noisy top-k's upstream seeds per loss: distinct, so swapping or dropping one shows.</summary>
    private static readonly IReadOnlyDictionary<string, float> DLosses = new Dictionary<string, float> { ["importance"] = 0.6f, ["load"] = 1.3f };

    private static readonly IReadOnlyDictionary<string, (MoeLayerInfo Info, ulong Seed)> NoisyLayers =
        new Dictionary<string, (MoeLayerInfo, ulong)>
        {
            [nameof(GradNoisyTop2SiluOverflow)] = (GradNoisyTop2SiluOverflow.Info, 44),
            [nameof(GradNoisyTop3Gelu)] = (GradNoisyTop3Gelu.Info, 45),
            [nameof(OracleNoisyTop2Silu)] = (OracleNoisyTop2Silu.Info, 31),
            [nameof(OracleNoisyTop4GeluOverflow)] = (OracleNoisyTop4GeluOverflow.Info, 32),
        };

    public static IEnumerable<object[]> NoisyForwardCases =>
        NoisyLayers.Keys.SelectMany(l => new[] { 0, 1, 17, 300 }.Select(t => new object[] { l, t }));

    public static IEnumerable<object[]> NoisyFiniteDifferenceCases =>
        new[] { nameof(GradNoisyTop2SiluOverflow), nameof(GradNoisyTop3Gelu) }
            .SelectMany(l => new[] { 0, 1, 12 }.Select(t => new object[] { l, t }));

    public static IEnumerable<object[]> ForwardCases =>
        new[] { nameof(OracleTopK2Relu), nameof(OracleTopK3SiluOverflow), nameof(OracleTopK4SwiGlu), nameof(OracleSwitchGeluOverflow), nameof(OracleGShardSwiGluOverflow), nameof(GradGShardGeluOverflow) }
            .SelectMany(l => new[] { 0, 1, 17, 300 }.Select(t => new object[] { l, t }));

    public static IEnumerable<object[]> FiniteDifferenceCases =>
        new[] { nameof(GradTopK2SwiGlu), nameof(GradSwitchSilu), nameof(GradGShardGeluOverflow) }
            .SelectMany(l => new[] { 0, 1, 12 }.Select(t => new object[] { l, t }));

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void Gradient_oracle_forward_equals_Forward(string layer, int tokens)
    {
        var (info, weights, x, seed) = Inputs(layer, tokens);
        var dOut = Numerics.RandomInputs(tokens * info.Dim, seed: tokens + 5);
        var forward = TorchMoe.Forward(info, weights, x, tokens, new CounterSeed(seed), step: 0);
        var grads = TorchMoe.Gradients(info, weights, x, tokens, new CounterSeed(seed), step: 0, dOut, DAux);

        // The same graph on the same float32 values: autograd changes nothing in the forward pass.
        Numerics.Close(forward.Output, grads.Output, rtol: 0f, atol: 0f, what: $"{layer} x{tokens}: output (Forward vs Gradients)");
        Assert.Equal(forward.AuxLoss, grads.AuxLoss);
        Assert.Equal(tokens * info.Dim, grads.DX.Length);
        Assert.Equal(TorchMoe.WeightNames.OrderBy(n => n), grads.Weights.Keys.OrderBy(n => n));
        foreach (var name in TorchMoe.WeightNames)
        {
            Assert.Equal(weights[name].Data.Length, grads.Weights[name].Length);
            Assert.All(grads.Weights[name], v => Assert.True(float.IsFinite(v), $"{layer} x{tokens}: {name} gradient {v}"));
        }

        if (tokens == 0)
        {
            Assert.All(TorchMoe.WeightNames, n => Assert.All(grads.Weights[n], v => Assert.Equal(0f, v)));
        }
    }

    [Theory]
    [MemberData(nameof(FiniteDifferenceCases))]
    public void Autograd_matches_float64_central_differences(string layer, int tokens)
    {
        var (info, weights, x, seed) = Inputs(layer, tokens);
        var routingSeed = new CounterSeed(seed);
        var dOut = Numerics.RandomInputs(tokens * info.Dim, seed: tokens + 9).Select(v => (double)v).ToArray();
        var forward = TorchMoe.Forward(info, weights, x, tokens, routingSeed, step: 0);
        if (tokens == 12 && info.CapacityFactor > 0f)
        {
            // The capacity layers must really drop here, or the check would not cover drops.
            Assert.True(forward.Dropped > 0, $"{layer} x{tokens}: capacity {forward.Capacity} dropped nothing");
        }

        if (tokens == 12 && info.Router == RouterKind.GShard)
        {
            Assert.Contains(-1, forward.Experts.Where((_, i) => i % 2 == 1));
        }

        // float64 copies of every input, by name; "x" is the layer input.
        var values = TorchMoe.WeightNames.ToDictionary(n => n, n => (Data: weights[n].Data.Select(v => (double)v).ToArray(), Shape: weights[n].Shape.Select(s => (long)s).ToArray()));
        values["x"] = (x.Select(v => (double)v).ToArray(), new[] { (long)tokens, info.Dim });

        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        var dOutTensor = torch.tensor(dOut, new[] { (long)tokens, info.Dim });
        var leaves = values.ToDictionary(kv => kv.Key, kv => torch.tensor(kv.Value.Data, kv.Value.Shape).requires_grad_(true));
        var graph = Graph(info, leaves, routingSeed, routing: null);
        TorchMoe.Backward(graph, dOutTensor, DAux);
        var autograd = leaves.ToDictionary(kv => kv.Key, kv => Doubles(TorchMoe.GradientOf(kv.Value)));
        var routing = (graph.Chosen, graph.Experts);

        // L at perturbed inputs, under the unperturbed routing: the decisions carry no gradient.
        double Loss()
        {
            using var inner = torch.NewDisposeScope();
            var inputs = values.ToDictionary(kv => kv.Key, kv => torch.tensor(kv.Value.Data, kv.Value.Shape));
            return TorchMoe.Objective(Graph(info, inputs, routingSeed, routing), dOutTensor, DAux).item<double>();
        }

        CheckCentralDifferences(values, Loss, autograd, $"{layer} x{tokens}");

        // The public float32 oracle agrees with the float64 graph just checked (inputs have no near
        // ties, so float32 routes the same); float32 rounding bounds the tolerance.
        var grads = TorchMoe.Gradients(info, weights, x, tokens, routingSeed, step: 0, dOut.Select(v => (float)v).ToArray(), DAux);
        Numerics.Close(autograd["x"].Select(v => (float)v).ToArray(), grads.DX, rtol: 1e-3f, atol: 1e-5f, what: $"{layer} x{tokens}: dx (float64 vs float32)");
        foreach (var name in TorchMoe.WeightNames)
        {
            Numerics.Close(autograd[name].Select(v => (float)v).ToArray(), grads.Weights[name], rtol: 1e-3f, atol: 1e-5f, what: $"{layer} x{tokens}: d {name} (float64 vs float32)");
        }
    }

    [Theory]
    [InlineData(nameof(GradTopK2SwiGlu), 1)]
    [InlineData(nameof(GradGShardGeluOverflow), 1)]
    [InlineData(nameof(OracleTopK2Relu), 17)]
    [InlineData(nameof(OracleSwitchGeluOverflow), 17)]
    public void An_expert_with_no_rows_gets_zero_gradient(string layer, int tokens)
    {
        var (info, weights, x, seed) = Inputs(layer, tokens);
        var dOut = Numerics.RandomInputs(tokens * info.Dim, seed: tokens + 3);
        var forward = TorchMoe.Forward(info, weights, x, tokens, new CounterSeed(seed), step: 0);
        var grads = TorchMoe.Gradients(info, weights, x, tokens, new CounterSeed(seed), step: 0, dOut, DAux);
        Assert.Contains(0, forward.Kept);
        Assert.Contains(forward.Kept, n => n > 0);
        foreach (var name in new[] { "experts.w1", "experts.b1", "experts.w2", "experts.b2" })
        {
            var per = grads.Weights[name].Length / info.Experts;
            for (var ex = 0; ex < info.Experts; ex++)
            {
                var slice = grads.Weights[name].Skip(ex * per).Take(per).ToArray();
                if (forward.Kept[ex] == 0)
                {
                    if (slice.Any(v => v != 0f))
                    {
                        throw new XunitException($"{layer} x{tokens}: expert {ex} has no rows but {name} has gradient {slice.First(v => v != 0f)}");
                    }
                }
                else if (name == "experts.b2")
                {
                    // Its bias gradient is Σ gate·dOut over its rows: never all zero for random dOut.
                    Assert.True(slice.Any(v => v != 0f), $"{layer} x{tokens}: expert {ex} has {forward.Kept[ex]} rows but no {name} gradient");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(NoisyForwardCases))]
    public void Noisy_gradient_oracle_forward_equals_NoisyTopK(string layer, int tokens)
    {
        var (info, weights, x, epsilon) = NoisyInputs(layer, tokens);
        var dOut = Numerics.RandomInputs(tokens * info.Dim, seed: tokens + 5);
        var forward = TorchRouters.NoisyTopK(info, weights, x, tokens, epsilon);
        var grads = TorchRouters.NoisyTopKGradients(info, weights, x, tokens, epsilon, dOut, DLosses);
        Numerics.Close(forward.Output, grads.Output, rtol: 0f, atol: 0f, what: $"{layer} x{tokens}: output (NoisyTopK vs gradients)");
        Assert.Equal(forward.Losses.OrderBy(l => l.Key), grads.Losses.OrderBy(l => l.Key));
        Assert.Equal(tokens * info.Dim, grads.DX.Length);
        Assert.Equal(weights.Names.Order(), grads.Weights.Keys.Order());
        Assert.All(weights.Names, n => Assert.Equal(weights[n].Data.Length, grads.Weights[n].Length));
        Assert.All(grads.Weights.Values.SelectMany(v => v).Concat(grads.DX), v => Assert.True(float.IsFinite(v), $"{layer} x{tokens}: gradient {v}"));
    }

    [Theory]
    [MemberData(nameof(NoisyFiniteDifferenceCases))]
    public void Noisy_top_k_autograd_matches_float64_central_differences(string layer, int tokens)
    {
        var (info, weights, x, epsilon) = NoisyInputs(layer, tokens);
        var dOut = Numerics.RandomInputs(tokens * info.Dim, seed: tokens + 9).Select(v => (double)v).ToArray();
        if (tokens == 12 && info.CapacityFactor > 0f)
        {
            Assert.True(TorchRouters.NoisyTopK(info, weights, x, tokens, epsilon).Dropped > 0, $"{layer} x{tokens}: nothing dropped");
        }

        var values = weights.Names.ToDictionary(n => n, n => (Data: weights[n].Data.Select(v => (double)v).ToArray(), Shape: weights[n].Shape.Select(s => (long)s).ToArray()));
        values["x"] = (x.Select(v => (double)v).ToArray(), new[] { (long)tokens, info.Dim });

        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        var dOutTensor = torch.tensor(dOut, new[] { (long)tokens, info.Dim });
        var eps = torch.tensor(epsilon.Select(v => (double)v).ToArray(), new[] { (long)tokens, info.Experts });
        var leaves = values.ToDictionary(kv => kv.Key, kv => torch.tensor(kv.Value.Data, kv.Value.Shape).requires_grad_(true));
        var graph = TorchRouters.NoisyGraph(info, leaves["x"], leaves, eps);
        var objective = TorchRouters.Objective(graph, dOutTensor, DLosses);
        if (objective.requires_grad)
        {
            objective.backward();
        }

        var autograd = leaves.ToDictionary(kv => kv.Key, kv => Doubles(TorchMoe.GradientOf(kv.Value)));

        // L at perturbed inputs, under the unperturbed order of the noisy logits.
        double Loss()
        {
            using var inner = torch.NewDisposeScope();
            var inputs = values.ToDictionary(kv => kv.Key, kv => torch.tensor(kv.Value.Data, kv.Value.Shape));
            return TorchRouters.Objective(TorchRouters.NoisyGraph(info, inputs["x"], inputs, eps, graph.Order), dOutTensor, DLosses).item<double>();
        }

        CheckCentralDifferences(values, Loss, autograd, $"{layer} x{tokens}");

        var grads = TorchRouters.NoisyTopKGradients(info, weights, x, tokens, epsilon, dOut.Select(v => (float)v).ToArray(), DLosses);
        Numerics.Close(autograd["x"].Select(v => (float)v).ToArray(), grads.DX, rtol: 1e-3f, atol: 1e-5f, what: $"{layer} x{tokens}: dx (float64 vs float32)");
        foreach (var name in weights.Names)
        {
            Numerics.Close(autograd[name].Select(v => (float)v).ToArray(), grads.Weights[name], rtol: 1e-3f, atol: 1e-5f, what: $"{layer} x{tokens}: d {name} (float64 vs float32)");
        }
    }

    /// <summary>
    /// Perturbs every element of every input by ±H in turn, recomputes L with <paramref name="loss"/>
    /// (which reads <paramref name="values"/>) and compares (L⁺ − L⁻)/2H with autograd; throws on the first mismatch.
    /// </summary>
    private static void CheckCentralDifferences(Dictionary<string, (double[] Data, long[] Shape)> values, Func<double> loss, Dictionary<string, double[]> autograd, string what)
    {
        var checkedCount = 0;
        foreach (var (name, (data, _)) in values)
        {
            for (var i = 0; i < data.Length; i++)
            {
                var original = data[i];
                data[i] = original + H;
                var plus = loss();
                data[i] = original - H;
                var minus = loss();
                data[i] = original;
                var fd = (plus - minus) / (2 * H);
                var ad = autograd[name][i];
                if (!(Math.Abs(fd - ad) <= FdAtol + (FdRtol * Math.Abs(ad))))
                {
                    throw new XunitException($"{what}: d L / d {name}[{i}]: autograd {ad:R}, central difference {fd:R}");
                }

                checkedCount++;
            }
        }

        Assert.Equal(values.Values.Sum(v => v.Data.Length), checkedCount);
    }

    /// <summary>Router weights, inputs without near ties and step 0's ε, as the router oracle draws them.</summary>
    private static (MoeLayerInfo Info, MoeWeights Weights, float[] X, float[] Epsilon) NoisyInputs(string layer, int tokens)
    {
        var (info, seed) = NoisyLayers[layer];
        var routingSeed = new CounterSeed(seed);
        var weights = OracleRouterLayers.Weights(info, seed);
        var x = OracleRouterLayers.WithoutTies(info, weights, tokens, seed: (tokens * 7) + 2, routingSeed);
        var epsilon = Enumerable.Range(0, tokens * info.Experts).Select(i => CounterRng.Normal(routingSeed.Lo, routingSeed.Hi ^ CounterRng.NoiseStream, 0, i)).ToArray();
        return (info, weights, x, epsilon);
    }

    // TorchSharp's accessor throws on an empty tensor (0 tokens), as in TorchMoe.Floats.
    private static double[] Doubles(Tensor tensor) => tensor.numel() == 0 ? [] : tensor.data<double>().ToArray();

    /// <summary>The shared graph on float64 tensors: "x" and the weights from <paramref name="inputs"/>.</summary>
    private static MoeGraph Graph(MoeLayerInfo info, Dictionary<string, Tensor> inputs, CounterSeed seed, (Tensor Chosen, Tensor Experts)? routing) =>
        TorchMoe.Graph(info, inputs["x"], inputs, seed, step: 0, routing);

    /// <summary>Random weights for the layer and inputs without routing near ties, as the forward oracle draws them.</summary>
    private static (MoeLayerInfo Info, MoeWeights Weights, float[] X, ulong Seed) Inputs(string layer, int tokens)
    {
        var (info, seed) = Layers[layer];
        var weights = MoeWeights.Random(info, seed);
        var x = OracleInputs.WithoutTies(info, weights, tokens, seed: (tokens * 7) + 1, new CounterSeed(seed), step: 0);
        return (info, weights, x, seed);
    }
}
