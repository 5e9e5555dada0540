using System;
using System.Linq;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Issue #7's routers on the test accelerator (ILGPU's CPU accelerator simulates every thread): tiny batches.</summary>
[Collection(AcceleratorCollection.Name)]
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class IlgpuRouterTests : RouterTests
{
    public IlgpuRouterTests(AcceleratorSession fixture)
        : base(fixture.Session, large: 13)
    {
    }

    public static TheoryData<string, int> Cases => RouterLayers.Cases(0, 1, 13);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Layer_matches_reference(string layer, int tokens) => MatchesReference(layer, tokens);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Routing_per_token_matches_reference(string layer, int tokens) => RoutingMatchesReference(layer, tokens);
}

/// <summary>Issue #7's routers on the native CPU target, up to a batch that overflows the capacities.</summary>
[Collection(NativeCollection.Name)]
public sealed class NativeRouterTests : RouterTests
{
    public NativeRouterTests(NativeSession fixture)
        : base(fixture.Session, large: 300)
    {
    }

    public static TheoryData<string, int> Cases => RouterLayers.Cases(0, 1, 13, 300);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Layer_matches_reference(string layer, int tokens) => MatchesReference(layer, tokens);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Routing_per_token_matches_reference(string layer, int tokens) => RoutingMatchesReference(layer, tokens);
}

/// <summary>Generated router layers against <see cref="RouterReference"/>, written once for both targets.</summary>
public abstract class RouterTests
{
    private const ulong Seed = 11;

    private readonly Session _session;

    /// <summary>The largest batch this target runs in reasonable time.</summary>
    private readonly int _large;

    protected RouterTests(Session session, int large)
    {
        _session = session;
        _large = large;
    }

    public static TheoryData<string> Names => new(RouterLayers.All.Keys);

    public static TheoryData<string> Capped => new(RouterLayers.All.Where(l => l.Value.Info.Router != RouterKind.ExpertChoice && l.Value.Info.CapacityFactor > 0).Select(l => l.Key));

    public static TheoryData<string> ExpertChoice => new(RouterLayers.All.Where(l => l.Value.Info.Router == RouterKind.ExpertChoice).Select(l => l.Key));

    public static TheoryData<string> DeepSeek => new(RouterLayers.All.Where(l => l.Value.Info.Router == RouterKind.DeepSeek).Select(l => l.Key));

    /// <summary>Output to 1e-4, statistics exactly, each named loss to 1e-5; the set of loss names exactly.</summary>
    protected void MatchesReference(string layer, int tokens)
    {
        var l = RouterLayers.All[layer];
        using var moe = l.Create(_session, MoeWeights.Random(l.Info, Seed), Seed);
        var (x, ids) = Inputs(l.Info, tokens, tokens + 5);

        using var result = Run(moe, x, tokens, ids);

        var routing = RouterReference.Route(l.Info, moe.Weights, x, tokens, new CounterSeed(Seed), step: 0, ids);
        var expected = RouterReference.Forward(RouterReference.Spec(l.Info), moe.Weights, routing, x, tokens);
        var what = $"{layer} x{tokens} on {_session.Kind}";
        Assert.Equal(new[] { tokens, l.Info.Dim }, result.Output.Shape);
        Numerics.Close(expected, result.Output.ToArray(), what: $"{what}: output");
        AssertStats(routing, result.Stats, tokens, what);
    }

    /// <summary>The probe FFN makes the output the dense routing: which experts each token kept, with which gate.</summary>
    protected void RoutingMatchesReference(string layer, int tokens)
    {
        var l = RouterLayers.All[layer];
        using var moe = l.Create(_session, RouterLayers.Probe(l.Info, Seed), Seed);
        var (x, ids) = Inputs(l.Info, tokens, tokens + 5);

        using var result = Run(moe, x, tokens, ids);

        var routing = RouterReference.Route(l.Info, moe.Weights, x, tokens, new CounterSeed(Seed), step: 0, ids);
        var expected = RouterLayers.ProbeOutput(l.Info, routing, tokens);
        var actual = result.Output.ToArray();
        var what = $"{layer} x{tokens} on {_session.Kind}";
        Numerics.Equal(Support(expected), Support(actual), $"{what}: experts kept per token (1 = token routed to the expert)");
        Numerics.Close(expected, actual, rtol: 1e-5f, atol: 1e-6f, what: $"{what}: gates per token and expert");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Later_calls_use_their_step_and_a_fixed_seed_reproduces_them(string layer)
    {
        // Two layers from the same seed, three calls each: call s matches the reference at step s
        // (noisy top-k draws new ε each step; the other routers do not depend on it), and the
        // second layer repeats the first bit for bit.
        var l = RouterLayers.All[layer];
        var tokens = Math.Min(_large, 40);
        var (x, ids) = Inputs(l.Info, tokens, 7);
        using var first = l.Create(_session, MoeWeights.Random(l.Info, Seed), Seed);
        using var second = l.Create(_session, MoeWeights.Random(l.Info, Seed), Seed);
        for (var step = 0; step < 3; step++)
        {
            using var a = Run(first, x, tokens, ids);
            using var b = Run(second, x, tokens, ids);

            var routing = RouterReference.Route(l.Info, first.Weights, x, tokens, new CounterSeed(Seed), step, ids);
            var expected = RouterReference.Forward(RouterReference.Spec(l.Info), first.Weights, routing, x, tokens);
            Numerics.Close(expected, a.Output.ToArray(), what: $"{layer} step {step}: output");
            AssertStats(routing, a.Stats, tokens, $"{layer} step {step}");
            Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
            Assert.Equal(a.Stats.TokensPerExpert, b.Stats.TokensPerExpert);
            Assert.Equal(a.Stats.Losses, b.Stats.Losses);
        }

        Assert.Equal(3, first.Step);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Noise_depends_on_the_routing_seed_and_only_noisy_topk_has_one(string layer)
    {
        // Same weights, routing seeds 1 and 2: only noisy top-k's routing may differ (and for 40
        // tokens over 4 experts it does, with near certainty: ε moves H by ~σ ≈ 0.7).
        var l = RouterLayers.All[layer];
        var tokens = Math.Min(_large, 40);
        var (x, ids) = Inputs(l.Info, tokens, 8);
        var weights = RouterLayers.Probe(l.Info, Seed);
        using var one = l.Create(_session, weights, 1);
        using var two = l.Create(_session, weights, 2);
        using var a = Run(one, x, tokens, ids);
        using var b = Run(two, x, tokens, ids);

        if (l.Info.Router == RouterKind.NoisyTopK)
        {
            Assert.NotEqual(a.Output.ToArray(), b.Output.ToArray());
        }
        else
        {
            Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(ExpertChoice))]
    public void Expert_choice_gives_every_expert_exactly_min_C_T_rows(string layer)
    {
        var l = RouterLayers.All[layer];
        using var moe = l.Create(_session, RouterLayers.Probe(l.Info, Seed), Seed);
        foreach (var tokens in new[] { 0, 1, 2, 5, _large })
        {
            var (x, _) = Inputs(l.Info, tokens, tokens);
            using var result = Run(moe, x, tokens, null);
            var c = Math.Min(tokens, (int)Math.Ceiling((double)l.Info.CapacityFactor * tokens / l.Info.Experts));
            Assert.Equal(c, result.Stats.Capacity);
            Assert.All(result.Stats.TokensPerExpert, n => Assert.Equal(c, n));

            // Through the probe: column e of the output is nonzero for exactly the C tokens expert e took.
            var output = result.Output.ToArray();
            for (var e = 0; e < l.Info.Experts; e++)
            {
                Assert.Equal(c, Enumerable.Range(0, tokens).Count(t => output[(t * l.Info.Dim) + e] != 0));
            }

            var unrouted = Enumerable.Range(0, tokens).Count(t => Enumerable.Range(0, l.Info.Experts).All(e => output[(t * l.Info.Dim) + e] == 0));
            Assert.Equal(unrouted, result.Stats.Dropped);
        }
    }

    [Theory]
    [MemberData(nameof(ExpertChoice))]
    public void Expert_choice_breaks_ties_towards_the_lower_token(string layer)
    {
        // Five copies of one token tie exactly in every expert's column: each expert takes the
        // first C of them, so tokens 0..C−1 go to every expert and the rest to none.
        var l = RouterLayers.All[layer];
        using var moe = l.Create(_session, RouterLayers.Probe(l.Info, Seed), Seed);
        var row = Numerics.RandomInputs(l.Info.Dim, 3);
        var x = Enumerable.Range(0, 5).SelectMany(_ => row).ToArray();

        using var result = Run(moe, x, 5, null);

        var c = MoeReference.Capacity(l.Info, 5);
        var output = result.Output.ToArray();
        for (var t = 0; t < 5; t++)
        {
            for (var e = 0; e < l.Info.Experts; e++)
            {
                Assert.True((output[(t * l.Info.Dim) + e] != 0) == (t < c), $"{layer}: token {t}, expert {e}, C = {c}: {output[(t * l.Info.Dim) + e]}");
            }
        }

        Assert.Equal(5 - c, result.Stats.Dropped);
    }

    [Theory]
    [MemberData(nameof(DeepSeek))]
    public void DeepSeek_breaks_score_ties_towards_the_lower_expert(string layer)
    {
        // A zero router weight gives every expert s = 1/2: each token takes experts 0..k−1, gate 1/k
        // each; under a capacity C those experts keep tokens 0..C−1 only.
        var l = RouterLayers.All[layer];
        var probe = RouterLayers.Probe(l.Info, Seed);
        var weights = new MoeWeights(probe.Names.Select(n => n == "gate.weight" ? new HostTensor(n, new float[l.Info.Dim * l.Info.Experts], l.Info.Dim, l.Info.Experts) : probe[n]));
        using var moe = l.Create(_session, weights, Seed);
        var (x, _) = Inputs(l.Info, 3, 5);

        using var result = Run(moe, x, 3, null);

        var output = result.Output.ToArray();
        var capacity = MoeReference.Capacity(l.Info, 3);
        for (var t = 0; t < 3; t++)
        {
            var kept = capacity == 0 || t < capacity;
            for (var e = 0; e < l.Info.Experts; e++)
            {
                Assert.Equal(e < l.Info.TopK && kept ? 1f / l.Info.TopK : 0f, output[(t * l.Info.Dim) + e], 6);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Capped))]
    public void Capacity_is_never_exceeded_and_overflow_is_counted(string layer)
    {
        var l = RouterLayers.All[layer];
        using var moe = l.Create(_session, MoeWeights.Random(l.Info, Seed), Seed);
        var (x, ids) = Inputs(l.Info, _large, 21);

        using var result = Run(moe, x, _large, ids);

        var capacity = MoeReference.Capacity(l.Info, _large);
        Assert.True(capacity > 0);
        Assert.Equal(capacity, result.Stats.Capacity);
        Assert.All(result.Stats.TokensPerExpert, n => Assert.InRange(n, 0, capacity));

        // Every routed choice is kept or dropped: Σ kept + dropped = T·k (shared experts are neither).
        Assert.Equal(_large * l.Info.TopK, result.Stats.TokensPerExpert.Sum() + result.Stats.Dropped);
        Assert.True(result.Stats.Dropped > 0, $"{layer}: {_large} tokens at capacity {capacity} dropped nothing");
    }

    [Fact]
    public void Hash_layer_refuses_a_call_without_ids_and_ids_outside_the_vocabulary()
    {
        using var layer = HashRelu.Create(_session, 3);
        using var input = _session.Upload(Numerics.RandomInputs(6 * 8, 1), 6, 8);

        var none = Assert.Throws<InvalidOperationException>(() => layer.Forward(input));
        Assert.Contains("token", none.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("HashRelu", none.Message, StringComparison.Ordinal);

        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(input, new[] { 0, 1, 2, -1, 4, 5 }));
        Assert.Contains("tokenIds[3] = -1", negative.Message, StringComparison.Ordinal);
        var vocab = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(input, new[] { 0, 1, 2, 3, 4, 100 }));
        Assert.Contains("tokenIds[5] = 100", vocab.Message, StringComparison.Ordinal);
        Assert.Contains("100", vocab.Message.Replace("tokenIds[5] = 100", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => layer.Forward(input, new[] { 0, 1, 2 }));

        // The largest id in the vocabulary is fine, and a refused call left the layer usable.
        using var ok = layer.Forward(input, new[] { 99, 0, 1, 2, 3, 4 });
        Assert.Equal(6, ok.Stats.TokensPerExpert.Sum());
    }

    [Fact]
    public void Hash_routing_uses_the_id_not_the_token_vector()
    {
        // Same ids, different vectors: the same experts. TokenHash agrees with the contract's formula.
        var info = HashRelu.Info;
        using var layer = HashRelu.Create(_session, RouterLayers.Probe(info, 2), 2);
        var ids = new[] { 3, 5, 0, 4, 9, 2, 77 };
        using var a = layer.Forward(_session.Upload(Numerics.RandomInputs(7 * 8, 1), 7, 8), ids);
        using var b = layer.Forward(_session.Upload(Numerics.RandomInputs(7 * 8, 2), 7, 8), ids);

        Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
        for (var t = 0; t < ids.Length; t++)
        {
            Assert.Equal(1f, a.Output.ToArray()[(t * 8) + RouterReference.HashExpert(ids[t], 4)]);
        }

        foreach (var e in new[] { 1, 3, 4, 5, 64 })
        {
            Assert.All(Enumerable.Range(-5, 2000), id => Assert.Equal(RouterReference.HashExpert(id, e), TokenHash.Expert(id, e)));
        }
    }

    [Theory]
    [MemberData(nameof(DeepSeek))]
    public void DeepSeek_bias_starts_at_zero_moves_by_the_formula_and_steers_later_routing(string layer)
    {
        var l = RouterLayers.All[layer];
        var tokens = _large;
        var (x, _) = Inputs(l.Info, tokens, 31);
        using var moe = l.Create(_session, MoeWeights.Random(l.Info, Seed), Seed);
        var update = (Action<MoeStats>)(moe switch
        {
            DeepSeekSwiGlu d => d.UpdateBalanceBias,
            DeepSeekTwoSharedCapped d => d.UpdateBalanceBias,
            DeepSeekNoShared d => d.UpdateBalanceBias,
            _ => throw new InvalidOperationException(layer),
        });
        Assert.All(moe.Weights["gate.bias"].Data, b => Assert.Equal(0f, b));

        var first = Array.Empty<int>();
        var changed = false;
        for (var step = 0; step < 8; step++)
        {
            using var result = Run(moe, x, tokens, null);

            // The layer routes with the bias it holds now, as the reference does with it.
            var routing = RouterReference.Route(l.Info, moe.Weights, x, tokens, new CounterSeed(Seed), step);
            Numerics.Close(RouterReference.Forward(RouterReference.Spec(l.Info), moe.Weights, routing, x, tokens), result.Output.ToArray(), what: $"{layer} step {step}: output");
            AssertStats(routing, result.Stats, tokens, $"{layer} step {step}");
            first = step == 0 ? result.Stats.TokensPerExpert.ToArray() : first;
            changed |= !first.SequenceEqual(result.Stats.TokensPerExpert);

            var before = moe.Weights["gate.bias"].Data.ToArray();
            update(result.Stats);
            var expected = RouterReference.UpdateBias(before, result.Stats.TokensPerExpert, l.Info.Options.BiasUpdateRate);
            Numerics.Close(expected, moe.Weights["gate.bias"].Data, rtol: 0, atol: 1e-7f, what: $"{layer} step {step}: bias");
        }

        Assert.True(changed || tokens < 100, $"{layer}: eight bias updates left the load {string.Join(",", first)} unchanged");
    }

    [Theory]
    [MemberData(nameof(DeepSeek))]
    public void DeepSeek_bias_selects_experts_but_gates_ignore_it(string layer)
    {
        // A bias of 10 on expert 1 puts it among every token's k (sigmoid scores lie in (0, 1));
        // the gates stay s / Σ s over the chosen, as the reference computes without the bias.
        var l = RouterLayers.All[layer];
        var probe = RouterLayers.Probe(l.Info, Seed);
        var bias = new float[l.Info.Experts];
        bias[1] = 10f;
        var weights = new MoeWeights(probe.Names.Select(n => n == "gate.bias" ? new HostTensor(n, bias, l.Info.Experts) : probe[n]));
        using var moe = l.Create(_session, weights, Seed);
        var tokens = Math.Min(_large, 40);
        var (x, _) = Inputs(l.Info, tokens, 41);

        using var result = Run(moe, x, tokens, null);

        var routing = RouterReference.Route(l.Info, weights, x, tokens, new CounterSeed(Seed), 0);
        Assert.Equal(l.Info.CapacityFactor > 0 ? Math.Min(tokens, MoeReference.Capacity(l.Info, tokens)) : tokens, result.Stats.TokensPerExpert[1]);
        Numerics.Close(RouterLayers.ProbeOutput(l.Info, routing, tokens), result.Output.ToArray(), rtol: 1e-5f, atol: 1e-6f, what: $"{layer}: gates with a bias");

        // Shared experts (columns E..E+S−1) take every token with gate 1.
        var output = result.Output.ToArray();
        for (var t = 0; t < tokens; t++)
        {
            for (var s = 0; s < l.Info.Options.SharedExperts; s++)
            {
                Assert.Equal(1f, output[(t * l.Info.Dim) + l.Info.Experts + s]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Statistics_accumulate_over_calls_with_the_routers_losses(string layer)
    {
        var l = RouterLayers.All[layer];
        using var moe = l.Create(_session, MoeWeights.Random(l.Info, Seed), Seed);
        var total = new MoeStatsAccumulator();
        var sums = new long[l.Info.Experts];
        var losses = l.Info.Router == RouterKind.NoisyTopK ? new[] { "importance", "load" } : Array.Empty<string>();
        var lossSums = new double[losses.Length];
        foreach (var tokens in new[] { 13, 1, Math.Min(_large, 40) })
        {
            var (x, ids) = Inputs(l.Info, tokens, tokens * 3);
            using var result = Run(moe, x, tokens, ids);
            Assert.Equal(losses, result.Stats.Losses.Keys.Order());
            Assert.Equal(l.Info.Experts, result.Stats.TokensPerExpert.Count);
            total.Add(result.Stats);
            for (var e = 0; e < sums.Length; e++)
            {
                sums[e] += result.Stats.TokensPerExpert[e];
            }

            for (var i = 0; i < losses.Length; i++)
            {
                lossSums[i] += result.Stats.Losses[losses[i]];
            }

            Assert.DoesNotContain("load_balance", result.Stats.ToTable(), StringComparison.Ordinal);
        }

        Assert.Equal(3, total.Calls);
        Assert.Equal(13 + 1 + Math.Min(_large, 40), total.Tokens);
        Assert.Equal(sums, total.TokensPerExpert);
        Assert.Equal(losses, total.MeanLosses.Keys.Order());
        for (var i = 0; i < losses.Length; i++)
        {
            Assert.Equal(lossSums[i] / 3, total.MeanLosses[losses[i]], 6);
        }

        Assert.Contains($"3 calls, {total.Tokens} tokens", total.ToTable(), StringComparison.Ordinal);
    }

    /// <summary>Kept per routed expert, dropped, capacity and tokens exactly; losses by name to 1e-5.</summary>
    internal static void AssertStats(RouterRouting routing, MoeStats stats, int tokens, string what)
    {
        Numerics.Equal(routing.Kept, stats.TokensPerExpert.ToArray(), $"{what}: tokens per expert");
        Assert.Equal(routing.Dropped, stats.Dropped);
        Assert.Equal(routing.Capacity, stats.Capacity);
        Assert.Equal(tokens, stats.Tokens);
        Assert.Equal(routing.Losses.Keys.Order(), stats.Losses.Keys.Order());
        foreach (var (name, value) in routing.Losses)
        {
            Assert.True(Math.Abs(value - stats.Losses[name]) <= 1e-5, $"{what}: loss {name} expected {value:R}, got {stats.Losses[name]:R}");
        }
    }

    private static int[] Support(float[] values) => values.Select(v => v != 0 ? 1 : 0).ToArray();

    private (float[] X, int[]? Ids) Inputs(MoeLayerInfo info, int tokens, int seed) =>
        (Numerics.RandomInputs(tokens * info.Dim, seed), RouterLayers.Ids(info, tokens, seed + 1000));

    private MoeResult Run(IMoeLayer layer, float[] x, int tokens, int[]? ids)
    {
        using var input = _session.Upload(x, tokens, layer.Info.Dim);
        return RouterLayer.Run(layer, input, ids);
    }
}
