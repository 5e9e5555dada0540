using System;
using System.Linq;
using Wudao.Runtime.Tests;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Oracle.Tests;

/// <summary>
/// Noisy top-k, expert choice and DeepSeek layers, generated and run on ILGPU's CPU accelerator
/// and the native CPU target, against the same routers written with libtorch (TorchSharp) and
/// against the plain C# reference: routing per choice, statistics, named losses, output.
/// </summary>
[Collection(OracleCollection.Name)]
public sealed class RouterOracleTests
{
    private readonly OracleSessions _sessions;

    public RouterOracleTests(OracleSessions sessions)
    {
        _sessions = sessions;
    }

    [Theory]
    [MemberData(nameof(OracleRouterLayers.NamesTokensAndTargets), MemberType = typeof(OracleRouterLayers))]
    public void Generated_router_matches_libtorch(string layer, int tokens, DeviceKind target)
    {
        var session = _sessions[target];
        var (info, seed, create) = OracleRouterLayers.All[layer];
        var weights = OracleRouterLayers.Weights(info, seed);
        var routingSeed = new CounterSeed(seed);
        var x = OracleRouterLayers.WithoutTies(info, weights, tokens, seed: (tokens * 7) + 2, routingSeed);
        var what = $"{layer} x{tokens} on {target}";

        using var moe = create(session, weights, seed);
        using var input = session.Upload(x, tokens, info.Dim);
        using var result = moe.Forward(input);

        var torch = Torch(info, weights, x, tokens, routingSeed);
        var reference = RouterReference.Route(info, weights, x, tokens, routingSeed, step: 0);

        // libtorch and the plain reference agree choice by choice.
        Numerics.Equal(reference.Experts, torch.Experts, $"{what}: experts per choice (reference vs libtorch)");
        Numerics.Close(reference.Gates, torch.Gates, rtol: 1e-5f, atol: 1e-6f, what: $"{what}: gates (reference vs libtorch)");
        Numerics.Equal(reference.Slots, torch.Slots, $"{what}: slots (reference vs libtorch)");
        Numerics.Equal(reference.Kept, torch.Kept, $"{what}: tokens per expert (reference vs libtorch)");
        Assert.Equal(reference.Dropped, torch.Dropped);
        Assert.Equal(reference.Losses.Keys.Order(), torch.Losses.Keys.Order());
        foreach (var (name, value) in torch.Losses)
        {
            Numerics.Close(new[] { (float)reference.Losses[name] }, new[] { value }, rtol: 1e-4f, atol: 1e-6f, what: $"{what}: loss {name} (reference vs libtorch)");
        }

        // The generated layer against libtorch.
        Assert.Equal(tokens, result.Stats.Tokens);
        Assert.Equal(reference.Capacity, result.Stats.Capacity);
        Numerics.Equal(torch.Kept, result.Stats.TokensPerExpert.ToArray(), $"{what}: tokens per expert (libtorch vs generated)");
        Assert.Equal(torch.Dropped, result.Stats.Dropped);
        Assert.Equal(torch.Losses.Keys.Order(), result.Stats.Losses.Keys.Order());
        foreach (var (name, value) in torch.Losses)
        {
            Numerics.Close(new[] { value }, new[] { result.Stats.Losses[name] }, rtol: 1e-4f, atol: 1e-6f, what: $"{what}: loss {name} (libtorch vs generated)");
        }

        Assert.Equal(new[] { tokens, info.Dim }, result.Output.Shape);
        Numerics.Close(torch.Output, result.Output.ToArray(), rtol: 1e-4f, atol: 1e-5f, what: $"{what}: output (libtorch vs generated)");

        // The overflowing layers must really drop on the large batch.
        if (info.CapacityFactor is > 0f and < 1.5f && tokens == 300)
        {
            Assert.True(result.Stats.Dropped > 0, $"{what}: capacity {result.Stats.Capacity} dropped nothing");
        }
    }

    private static TorchRouterResult Torch(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, CounterSeed seed) => info.Router switch
    {
        RouterKind.NoisyTopK => TorchRouters.NoisyTopK(info, weights, x, tokens, Epsilon(info, tokens, seed)),
        RouterKind.ExpertChoice => TorchRouters.ExpertChoice(info, weights, x, tokens),
        RouterKind.DeepSeek => TorchRouters.DeepSeek(info, weights, x, tokens),
        _ => throw new ArgumentOutOfRangeException(nameof(info), info.Router, "no libtorch version of this router here"),
    };

    /// <summary>Noisy top-k's ε [T, E] for step 0, drawn on the host as the contract defines it.</summary>
    private static float[] Epsilon(MoeLayerInfo info, int tokens, CounterSeed seed)
    {
        var e = info.Experts;
        return Enumerable.Range(0, tokens * e).Select(i => CounterRng.Normal(seed.Lo, seed.Hi ^ CounterRng.NoiseStream, 0, i)).ToArray(); // i = t·E + e
    }
}
