using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests;

// Small layers for issue #7's routers, one default and one constrained per router: the CPU
// accelerator simulates every thread, so shapes stay tiny; dims divide no tile size.

[MoeLayer(Dim = 8, Experts = 4, TopK = 2, Hidden = 12, Activation = Activation.Gelu)]
[Router(RouterKind.NoisyTopK, ImportanceWeight = 0.1f, LoadWeight = 0.1f)]
public partial class NoisyTop2Gelu
{
}

/// <summary>k = E (no threshold above the chosen) with a capacity that overflows.</summary>
[MoeLayer(Dim = 6, Experts = 3, TopK = 3, Hidden = 7, Activation = Activation.Relu)]
[Router(RouterKind.NoisyTopK, CapacityFactor = 0.75f, ImportanceWeight = 0.05f, LoadWeight = 0.2f)]
public partial class NoisyTop3ReluTight
{
}

[MoeLayer(Dim = 8, Experts = 4, Hidden = 12, Activation = Activation.Silu)]
[Router(RouterKind.ExpertChoice, CapacityFactor = 2f)]
public partial class ExpertChoiceSilu
{
}

/// <summary>c = 0.5: experts take half the tokens between them, so some tokens get none.</summary>
[MoeLayer(Dim = 5, Experts = 3, Hidden = 9, Activation = Activation.Relu)]
[Router(RouterKind.ExpertChoice, CapacityFactor = 0.5f)]
public partial class ExpertChoiceReluHalf
{
}

[MoeLayer(Dim = 8, Experts = 4, TopK = 1, Hidden = 12, Activation = Activation.Relu)]
[Router(RouterKind.Hash, Vocab = 100)]
public partial class HashRelu
{
}

[MoeLayer(Dim = 6, Experts = 4, TopK = 1, Hidden = 10, Activation = Activation.Gelu)]
[Router(RouterKind.Hash, Vocab = 50, CapacityFactor = 1f)]
public partial class HashGeluCapped
{
}

[MoeLayer(Dim = 8, Experts = 6, TopK = 2, Hidden = 12, Activation = Activation.SwiGlu)]
[Router(RouterKind.DeepSeek, SharedExperts = 1, BiasUpdateRate = 0.01f)]
public partial class DeepSeekSwiGlu
{
}

[MoeLayer(Dim = 7, Experts = 4, TopK = 2, Hidden = 9, Activation = Activation.Silu)]
[Router(RouterKind.DeepSeek, SharedExperts = 2, CapacityFactor = 1f, BiasUpdateRate = 0.05f)]
public partial class DeepSeekTwoSharedCapped
{
}

/// <summary>No shared experts (declared 0, not the default 1): the FFN holds the E routed ones only.</summary>
[MoeLayer(Dim = 5, Experts = 5, TopK = 3, Hidden = 6, Activation = Activation.Relu)]
[Router(RouterKind.DeepSeek, SharedExperts = 0, BiasUpdateRate = 0.1f)]
public partial class DeepSeekNoShared
{
}

/// <summary>The router test layers by name, how to run each, and inputs for them.</summary>
public static class RouterLayers
{
    public static readonly IReadOnlyDictionary<string, RouterLayer> All = new Dictionary<string, RouterLayer>
    {
        [nameof(NoisyTop2Gelu)] = new(NoisyTop2Gelu.Info, (s, w, seed) => NoisyTop2Gelu.Create(s, w, seed)),
        [nameof(NoisyTop3ReluTight)] = new(NoisyTop3ReluTight.Info, (s, w, seed) => NoisyTop3ReluTight.Create(s, w, seed)),
        [nameof(ExpertChoiceSilu)] = new(ExpertChoiceSilu.Info, (s, w, seed) => ExpertChoiceSilu.Create(s, w, seed)),
        [nameof(ExpertChoiceReluHalf)] = new(ExpertChoiceReluHalf.Info, (s, w, seed) => ExpertChoiceReluHalf.Create(s, w, seed)),
        [nameof(HashRelu)] = new(HashRelu.Info, (s, w, seed) => HashRelu.Create(s, w, seed)),
        [nameof(HashGeluCapped)] = new(HashGeluCapped.Info, (s, w, seed) => HashGeluCapped.Create(s, w, seed)),
        [nameof(DeepSeekSwiGlu)] = new(DeepSeekSwiGlu.Info, (s, w, seed) => DeepSeekSwiGlu.Create(s, w, seed)),
        [nameof(DeepSeekTwoSharedCapped)] = new(DeepSeekTwoSharedCapped.Info, (s, w, seed) => DeepSeekTwoSharedCapped.Create(s, w, seed)),
        [nameof(DeepSeekNoShared)] = new(DeepSeekNoShared.Info, (s, w, seed) => DeepSeekNoShared.Create(s, w, seed)),
    };

    public static TheoryData<string, int> Cases(params int[] tokens) => Where(_ => true, tokens);

    /// <summary>The layers of one router, or those declaring a capacity factor, with each token count.</summary>
    public static TheoryData<string, int> Where(Func<MoeLayerInfo, bool> keep, params int[] tokens)
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, layer) in All.Where(l => keep(l.Value.Info)))
        {
            foreach (var t in tokens)
            {
                data.Add(name, t);
            }
        }

        return data;
    }

    /// <summary>Token ids in [0, Vocab) for hash layers (null for the others).</summary>
    public static int[]? Ids(MoeLayerInfo info, int tokens, int seed)
    {
        if (info.Router != RouterKind.Hash)
        {
            return null;
        }

        var rng = new Random(seed);
        return Enumerable.Range(0, tokens).Select(_ => rng.Next(info.Options.Vocab)).ToArray();
    }

    /// <summary>
    /// Random router weights and a probe FFN: W1, b1, W2 zero and b2 of expert e the basis vector e,
    /// so every expert outputs its own number and the layer's output row t is token t's gate per
    /// expert after capacity: the routing, read through the public Forward.
    /// </summary>
    public static MoeWeights Probe(MoeLayerInfo info, ulong seed)
    {
        var random = MoeWeights.Random(info, seed);
        var b2 = new float[info.FfnExperts * info.Dim];
        for (var e = 0; e < info.FfnExperts; e++)
        {
            b2[(e * info.Dim) + e] = 1f;
        }

        return new MoeWeights(random.Names.Select(n => n switch
        {
            "experts.b2" => new HostTensor(n, b2, info.FfnExperts, info.Dim),
            "experts.w1" or "experts.b1" or "experts.w2" => new HostTensor(n, new float[random[n].Data.Length], random[n].Shape.ToArray()),
            _ => random[n],
        }));
    }

    /// <summary>The reference's dense routing laid out as the probe layer's output [T, Dim].</summary>
    public static float[] ProbeOutput(MoeLayerInfo info, RouterRouting r, int tokens)
    {
        var dense = RouterReference.DenseGates(r, tokens, info.FfnExperts);
        var output = new float[tokens * info.Dim];
        for (var t = 0; t < tokens; t++)
        {
            Array.Copy(dense, t * info.FfnExperts, output, t * info.Dim, info.FfnExperts);
        }

        return output;
    }
}

/// <summary>A generated router layer: what the compiler says about it, and a factory (weights, routing seed).</summary>
public sealed record RouterLayer(MoeLayerInfo Info, Func<Session, MoeWeights, ulong, IMoeLayer> Create)
{
    /// <summary>Forward, with token ids where the layer routes by them.</summary>
    public static MoeResult Run(IMoeLayer layer, DeviceTensor x, int[]? ids) => layer switch
    {
        HashRelu h => h.Forward(x, ids),
        HashGeluCapped h => h.Forward(x, ids),
        _ => layer.Forward(x),
    };
}
