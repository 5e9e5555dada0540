using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Runtime.Tests.Reference;

namespace Wudao.Oracle.Tests;

// Issue #7's routers as the oracle checks them: Dim 96 and 200 (no tile multiple), k = E for noisy
// top-k (no threshold above the chosen), overflowing capacities, DeepSeek with one and two shared
// experts. Hash routing is left to the runtime tests: libtorch has no hash to compare with.

[MoeLayer(Dim = 96, Experts = 8, TopK = 2, Hidden = 24, Activation = Activation.Silu)]
[Router(RouterKind.NoisyTopK, ImportanceWeight = 0.1f, LoadWeight = 0.05f)]
public partial class OracleNoisyTop2Silu
{
}

[MoeLayer(Dim = 200, Experts = 4, TopK = 4, Hidden = 16, Activation = Activation.Gelu)]
[Router(RouterKind.NoisyTopK, CapacityFactor = 0.5f, ImportanceWeight = 0.2f, LoadWeight = 0.3f)]
public partial class OracleNoisyTop4GeluOverflow
{
}

[MoeLayer(Dim = 96, Experts = 8, Hidden = 16, Activation = Activation.Gelu)]
[Router(RouterKind.ExpertChoice)]
public partial class OracleExpertChoiceGelu
{
}

[MoeLayer(Dim = 200, Experts = 3, Hidden = 20, Activation = Activation.SwiGlu)]
[Router(RouterKind.ExpertChoice, CapacityFactor = 0.5f)]
public partial class OracleExpertChoiceSwiGluHalf
{
}

[MoeLayer(Dim = 96, Experts = 16, TopK = 4, Hidden = 12, Activation = Activation.Relu)]
[Router(RouterKind.DeepSeek, SharedExperts = 2)]
public partial class OracleDeepSeekRelu
{
}

[MoeLayer(Dim = 200, Experts = 8, TopK = 2, Hidden = 16, Activation = Activation.Silu)]
[Router(RouterKind.DeepSeek, SharedExperts = 1, CapacityFactor = 1f)]
public partial class OracleDeepSeekSiluTight
{
}

// Tiny noisy top-k layers for the gradient oracle's finite differences (TorchMoeGradientTests):
// k < E with an overflowing capacity, and k = E (no "if in" threshold). Not in All.

[MoeLayer(Dim = 6, Experts = 4, TopK = 2, Hidden = 5, Activation = Activation.Silu)]
[Router(RouterKind.NoisyTopK, CapacityFactor = 0.5f, ImportanceWeight = 0.5f, LoadWeight = 0.5f)]
public partial class GradNoisyTop2SiluOverflow
{
}

[MoeLayer(Dim = 6, Experts = 3, TopK = 3, Hidden = 4, Activation = Activation.Gelu)]
[Router(RouterKind.NoisyTopK, ImportanceWeight = 0.5f, LoadWeight = 0.5f)]
public partial class GradNoisyTop3Gelu
{
}

/// <summary>The router oracle layers by name, with weights (DeepSeek's with a nonzero bias) and inputs without near ties.</summary>
public static class OracleRouterLayers
{
    public static readonly IReadOnlyDictionary<string, (MoeLayerInfo Info, ulong Seed, Func<Session, MoeWeights, ulong, IMoeLayer> Create)> All =
        new Dictionary<string, (MoeLayerInfo, ulong, Func<Session, MoeWeights, ulong, IMoeLayer>)>
        {
            [nameof(OracleNoisyTop2Silu)] = (OracleNoisyTop2Silu.Info, 31, (s, w, r) => OracleNoisyTop2Silu.Create(s, w, r)),
            [nameof(OracleNoisyTop4GeluOverflow)] = (OracleNoisyTop4GeluOverflow.Info, 32, (s, w, r) => OracleNoisyTop4GeluOverflow.Create(s, w, r)),
            [nameof(OracleExpertChoiceGelu)] = (OracleExpertChoiceGelu.Info, 33, (s, w, r) => OracleExpertChoiceGelu.Create(s, w, r)),
            [nameof(OracleExpertChoiceSwiGluHalf)] = (OracleExpertChoiceSwiGluHalf.Info, 34, (s, w, r) => OracleExpertChoiceSwiGluHalf.Create(s, w, r)),
            [nameof(OracleDeepSeekRelu)] = (OracleDeepSeekRelu.Info, 35, (s, w, r) => OracleDeepSeekRelu.Create(s, w, r)),
            [nameof(OracleDeepSeekSiluTight)] = (OracleDeepSeekSiluTight.Info, 36, (s, w, r) => OracleDeepSeekSiluTight.Create(s, w, r)),
        };

    public static readonly int[] TokenCounts = { 0, 1, 17, 300 };

    public static IEnumerable<object[]> NamesTokensAndTargets =>
        All.Keys.SelectMany(k => TokenCounts.SelectMany(t => OracleLayers.Targets.Select(d => new object[] { k, t, d })));

    /// <summary>Random weights; DeepSeek's balancing bias uniform in ±0.05 (as after some updates), so top-k of s + b is exercised.</summary>
    public static MoeWeights Weights(MoeLayerInfo info, ulong seed)
    {
        var random = MoeWeights.Random(info, seed);
        if (info.Router != RouterKind.DeepSeek)
        {
            return random;
        }

        var rng = new Random((int)seed);
        var bias = Enumerable.Range(0, info.Experts).Select(_ => (float)((rng.NextDouble() - 0.5) * 0.1)).ToArray();
        return new MoeWeights(random.Names.Select(n => n == "gate.bias" ? new HostTensor(n, bias, info.Experts) : random[n]));
    }

    /// <summary>
    /// Inputs uniform in [-2, 2]; a token whose routing is too close to call in fp32 is drawn again:
    /// two of its k+1 largest noisy logits (noisy top-k) or s + b (DeepSeek) within 1e-4, or, under
    /// expert choice, two of an expert's C+1 most probable tokens within a relative 1e-5 (the later
    /// one is redrawn). Decided in double by the reference, so neither fp32 side's rounding counts.
    /// </summary>
    public static float[] WithoutTies(MoeLayerInfo info, MoeWeights weights, int tokens, int seed, CounterSeed routingSeed)
    {
        var rng = new Random(seed);
        var d = info.Dim;
        var x = Enumerable.Range(0, tokens * d).Select(_ => (float)((rng.NextDouble() * 4) - 2)).ToArray();
        for (var round = 0; round <= 100; round++)
        {
            var near = Near(info, weights, x, tokens, routingSeed);
            if (near.Count == 0)
            {
                return x;
            }

            foreach (var t in near)
            {
                for (var i = t * d; i < (t + 1) * d; i++)
                {
                    x[i] = (float)((rng.NextDouble() * 4) - 2);
                }
            }
        }

        throw new InvalidOperationException($"{info.Name}: could not draw {tokens} tokens without routing ties");
    }

    private static HashSet<int> Near(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, CounterSeed routingSeed)
    {
        var e = info.Experts;
        var routing = RouterReference.Route(info, weights, x, tokens, routingSeed, step: 0);
        var near = new HashSet<int>();
        if (info.Router == RouterKind.ExpertChoice)
        {
            for (var j = 0; j < e; j++)
            {
                var column = Enumerable.Range(0, tokens).OrderByDescending(t => routing.Scores[(t * e) + j]).Take(routing.Capacity + 1).ToArray();
                for (var r = 1; r < column.Length; r++)
                {
                    double hi = routing.Scores[(column[r - 1] * e) + j], lo = routing.Scores[(column[r] * e) + j];
                    if (hi - lo < 1e-5 * hi)
                    {
                        near.Add(column[r]);
                    }
                }
            }

            return near;
        }

        var bias = info.Router == RouterKind.DeepSeek ? weights["gate.bias"].Data : new float[e];
        for (var t = 0; t < tokens; t++)
        {
            var top = Enumerable.Range(0, e).Select(j => routing.Scores[(t * e) + j] + bias[j]).OrderDescending().Take(info.TopK + 1).ToArray();
            if (top.Zip(top.Skip(1), (a, b) => a - b).Any(gap => gap < 1e-4))
            {
                near.Add(t);
            }
        }

        return near;
    }
}
