using System;
using System.Collections.Generic;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// The routers beyond softmax top-k (noisy top-k, expert choice, hash, DeepSeek) on both targets:
/// the native schedule agrees with the ILGPU kernels, and every kernel compiles to PTX.
/// (Their formulas are checked against plain references in the router tests.)
/// </summary>
public sealed class RouterTargetTests
{
    private static readonly Dictionary<string, (Type Type, Func<Session, ulong, IMoeLayer> Create)> Routers = new()
    {
        [nameof(NoisyTopK2)] = (typeof(NoisyTopK2), (s, seed) => NoisyTopK2.Create(s, seed)),
        [nameof(ExpertChoiceLayer)] = (typeof(ExpertChoiceLayer), (s, seed) => ExpertChoiceLayer.Create(s, seed)),
        [nameof(HashLayer)] = (typeof(HashLayer), (s, seed) => HashLayer.Create(s, seed)),
        [nameof(DeepSeekLayer)] = (typeof(DeepSeekLayer), (s, seed) => DeepSeekLayer.Create(s, seed)),
    };

    public static IEnumerable<object[]> NamesAndTokens =>
        Routers.Keys.SelectMany(k => new[] { 0, 1, 13, 37 }.Select(t => new object[] { k, t }));

    public static IEnumerable<object[]> Kernels =>
        from layer in Routers.Keys
        from k in Layers.Kernels(Routers[layer].Type)
        from arch in new[] { 80, 90 }
        select new object[] { layer, k.Entry.Role, arch };

    [Theory]
    [MemberData(nameof(NamesAndTokens))]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void Native_target_matches_the_ilgpu_kernels(string name, int tokens)
    {
        var results = new List<(float[] Output, MoeStats Stats)>();
        foreach (var kind in new[] { TestAccelerator.Kind, DeviceKind.Native })
        {
            using var session = TestAccelerator.OpenSession(kind, threads: 2);
            using var layer = Routers[name].Create(session, 5);
            var x = Numerics.RandomInputs(tokens * layer.Info.Dim, seed: 11);
            using var input = session.Upload(x, tokens, layer.Info.Dim);
            using var result = Run(layer, input, tokens);
            results.Add((result.Output.ToArray(), result.Stats));
        }

        var (ilgpu, native) = (results[0], results[1]);
        Numerics.Close(ilgpu.Output, native.Output, what: $"{name} output");
        Assert.Equal(ilgpu.Stats.TokensPerExpert, native.Stats.TokensPerExpert);
        Assert.Equal(ilgpu.Stats.Dropped, native.Stats.Dropped);
        Assert.Equal(ilgpu.Stats.Losses.Keys, native.Stats.Losses.Keys);
        foreach (var (loss, value) in ilgpu.Stats.Losses)
        {
            Assert.Equal(value, native.Stats.Losses[loss], 1e-5f);
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_compiles_to_ptx(string layer, string role, int arch)
    {
        var (method, entry) = Layers.Kernels(Routers[layer].Type).Single(k => k.Entry.Role == role);
        var ptx = Ptx.Compile(method, entry.Grouped, arch);

        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
    }

    [Fact]
    public void Plans_show_each_router_fused_into_gate_and_route()
    {
        Assert.Contains("[matmul, matmul, noisy, topk, softmax, load_prob]", NoisyTopK2.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("[capacity, scan, nonfinite, noisy_loss]", NoisyTopK2.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("[matmul, softmax]", ExpertChoiceLayer.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("[expert_choice, scan, nonfinite]", ExpertChoiceLayer.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("[hash_route]", HashLayer.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("[matmul, sigmoid, topk_biased, renorm, append_shared]", DeepSeekLayer.Info.PlanText, StringComparison.Ordinal);
        Assert.DoesNotContain("gate.weight", string.Join(",", HashLayer.Info.Weights.Select(w => w.Name)), StringComparison.Ordinal);
        Assert.Equal(new[] { 7, 8, 20 }, DeepSeekLayer.Info.Weights.Single(w => w.Name == "experts.w1").Shape);
        Assert.Equal(0f, MoeWeights.Random(DeepSeekLayer.Info, 3)["gate.bias"].Data.Sum(MathF.Abs));
    }

    [Fact]
    public void Expert_choice_gives_every_expert_exactly_its_capacity()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 2);
        using var layer = ExpertChoiceLayer.Create(session, 2);
        foreach (var tokens in new[] { 1, 2, 10, 301 })
        {
            using var input = session.Upload(Numerics.RandomInputs(tokens * 7, seed: tokens), tokens, 7);
            using var result = layer.Forward(input);
            var c = Math.Min(tokens, (int)Math.Ceiling(1.5 * tokens / 3));
            Assert.Equal(c, result.Stats.Capacity);
            Assert.All(result.Stats.TokensPerExpert, n => Assert.Equal(c, n));
        }
    }

    [Fact]
    public void Hash_routing_needs_token_ids_in_the_vocabulary()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var layer = HashLayer.Create(session, 1);
        using var input = session.Upload(new float[3 * 6], 3, 6);

        var noIds = Assert.Throws<InvalidOperationException>(() => layer.Forward(input));
        Assert.Contains("Forward(x, tokenIds)", noIds.Message, StringComparison.Ordinal);
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(input, new[] { 4, 100, 2 }));
        Assert.Contains("tokenIds[1] = 100", outside.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => layer.Forward(input, new[] { 1, 2 }));
    }

    [Fact]
    public void Deepseek_bias_update_follows_the_load()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var layer = DeepSeekLayer.Create(session, 4);
        using var input = session.Upload(Numerics.RandomInputs(200 * 8, seed: 3), 200, 8);
        using var first = layer.Forward(input);
        var load = first.Stats.TokensPerExpert;
        var mean = load.Average();

        layer.UpdateBalanceBias(first.Stats);

        var bias = layer.Weights["gate.bias"].Data;
        for (var e = 0; e < load.Count; e++)
        {
            Assert.Equal(-0.01f * Math.Sign(load[e] - mean), bias[e]);
        }

        using var second = layer.Forward(input);
        Assert.NotEqual(load, second.Stats.TokensPerExpert);
    }

    private static MoeResult Run(IMoeLayer layer, DeviceTensor input, int tokens) => layer is HashLayer hash
        ? hash.Forward(input, Enumerable.Range(0, tokens).Select(t => (t * 37) % 100).ToArray())
        : layer.Forward(input);
}
