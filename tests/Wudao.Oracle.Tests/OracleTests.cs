using System.Linq;
using Wudao.Runtime.Tests;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Oracle.Tests;

/// <summary>
/// Generated layers, run on ILGPU's CPU accelerator and on the native CPU target, against the same layer written with libtorch
/// (TorchSharp) from the same weights and inputs: output, routing per token, statistics.
/// </summary>
[Collection(OracleCollection.Name)]
public sealed class OracleTests
{
    private readonly OracleSessions _sessions;

    public OracleTests(OracleSessions sessions)
    {
        _sessions = sessions;
    }

    [Theory]
    [MemberData(nameof(OracleLayers.NamesTokensAndTargets), MemberType = typeof(OracleLayers))]
    public void Generated_layer_matches_libtorch(string layer, int tokens, DeviceKind target)
    {
        var session = _sessions[target];
        var (info, seed, create) = OracleLayers.All[layer];
        var weights = MoeWeights.Random(info, seed);
        var routingSeed = new CounterSeed(seed);
        var x = OracleInputs.WithoutTies(info, weights, tokens, seed: (tokens * 7) + 1, routingSeed, step: 0);

        using var moe = create(session, weights, seed);
        using var input = session.Upload(x, tokens, info.Dim);
        using var result = moe.Forward(input);
        var generated = result.Output.ToArray();

        var torch = TorchMoe.Forward(info, weights, x, tokens, routingSeed, step: 0);
        var reference = MoeReference.Route(info, weights, x, tokens, routingSeed, step: 0);

        // Routing per token: libtorch and the plain C# reference choose the same experts (-1: GShard
        // dropped the second), give them the same gates and the same capacity slots (-1: dropped).
        Numerics.Equal(reference.Experts, torch.Experts, $"{layer} x{tokens} on {target}: experts per choice (reference vs libtorch)");
        Numerics.Close(reference.Gates, torch.Gates, rtol: 1e-5f, atol: 1e-6f, what: $"{layer} x{tokens} on {target}: gates (reference vs libtorch)");
        Numerics.Equal(reference.Slots, torch.Slots, $"{layer} x{tokens} on {target}: capacity slots (reference vs libtorch)");
        Numerics.Equal(reference.Kept, torch.Kept, $"{layer} x{tokens} on {target}: tokens per expert (reference vs libtorch)");

        // Statistics of the generated layer against libtorch.
        Assert.Equal(tokens, result.Stats.Tokens);
        Assert.Equal(torch.Capacity, result.Stats.Capacity);
        Numerics.Equal(torch.Kept, result.Stats.TokensPerExpert.ToArray(), $"{layer} x{tokens} on {target}: tokens per expert (libtorch vs generated)");
        Assert.Equal(torch.Dropped, result.Stats.Dropped);
        Assert.Equal(torch.Dropped, reference.Dropped);
        Numerics.Close(new[] { torch.AuxLoss }, new[] { result.Stats.AuxLoss }, rtol: 1e-4f, atol: 1e-7f, what: $"{layer} x{tokens} on {target}: aux loss (libtorch vs generated)");
        Numerics.Close(new[] { reference.AuxLoss }, new[] { torch.AuxLoss }, rtol: 1e-4f, atol: 1e-7f, what: $"{layer} x{tokens} on {target}: aux loss (reference vs libtorch)");

        // The output, fp32 against fp32.
        Assert.Equal(new[] { tokens, info.Dim }, result.Output.Shape);
        Numerics.Close(torch.Output, generated, rtol: 1e-4f, atol: 1e-5f, what: $"{layer} x{tokens} on {target}: output (libtorch vs generated)");

        // The layers declared with capacity factor 0.5 must really overflow on the large batch.
        if (info.CapacityFactor is > 0f and < 1f && tokens == 1000)
        {
            Assert.True(result.Stats.Dropped > 0, $"{layer} x{tokens} on {target}: capacity {result.Stats.Capacity} dropped nothing");
        }
    }
}
