using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Switch Transformer extras: router-input jitter and the router z-loss, on both targets.</summary>
public sealed class SwitchExtrasTests
{
    /// <summary>Each token count on the test accelerator and on the native target.</summary>
    public static TheoryData<DeviceKind, int> Targets()
    {
        var data = new TheoryData<DeviceKind, int>();
        foreach (var kind in new[] { TestAccelerator.Kind, DeviceKind.Native })
        {
            foreach (var tokens in new[] { 0, 1, 23 })
            {
                data.Add(kind, tokens);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void Jitter_and_z_loss_match_the_formulas(DeviceKind kind, int tokens)
    {
        var info = SwitchJitterZ.Info;
        using var session = TestAccelerator.OpenSession(kind, threads: 2);
        using var layer = SwitchJitterZ.Create(session, 13);
        var x = Numerics.RandomInputs(tokens * info.Dim, seed: 4);
        using var input = session.Upload(x, tokens, info.Dim);

        using var result = layer.Forward(input);

        var expected = MoeReference.Forward(info, layer.Weights, x, tokens, new CounterSeed(13), 0, out var routing);
        Numerics.Close(expected, result.Output.ToArray(), what: "output");
        Assert.Equal(routing.Kept, result.Stats.TokensPerExpert);
        Assert.Equal(routing.Dropped, result.Stats.Dropped);
        Assert.Equal(routing.AuxLoss, result.Stats.Losses["load_balance"], 1e-5f);
        Assert.Equal(routing.ZLoss, result.Stats.Losses["router_z"], 1e-5f);
        Assert.Contains("%xj = jitter %x {eps=0.2}", SwitchJitterZ.Info.GraphText, StringComparison.Ordinal);
        Assert.Contains("[jitter, matmul, softmax, topk, logsumexp]", SwitchJitterZ.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("[capacity, scan, nonfinite, aux_loss, z_loss]", SwitchJitterZ.Info.PlanText, StringComparison.Ordinal);
    }

    [Fact]
    public void Jitter_changes_routing_only_through_the_router()
    {
        // With jitter the router's choice may move, but an expert still sees the unjittered token:
        // compare against the reference with jitter (passes above) and without it (differs in logits).
        var info = SwitchJitterZ.Info;
        var weights = MoeWeights.Random(info, 13);
        var x = Numerics.RandomInputs(200 * info.Dim, seed: 9);
        var jittered = MoeReference.Route(info, weights, x, 200, new CounterSeed(13), 0);
        var plain = MoeReference.Route(new MoeLayerInfo(info.Name, info.Dim, info.Experts, info.TopK, info.Hidden, info.Activation, info.Router, info.CapacityFactor, info.AuxLossWeight, info.Weights.ToArray(), "", ""), weights, x, 200, new CounterSeed(13), 0);

        Assert.NotEqual(plain.Probs, jittered.Probs);
    }

    [Fact]
    public void Z_loss_of_uniform_logits_is_weight_times_log_E_squared()
    {
        // A zero router weight gives logits of 0: logsumexp = ln E for every token.
        var info = SwitchJitterZ.Info;
        var random = MoeWeights.Random(info, 1);
        var weights = new MoeWeights(random.Names.Select(n => n == "gate.weight" ? new HostTensor(n, new float[info.Dim * info.Experts], info.Dim, info.Experts) : random[n]));
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var layer = SwitchJitterZ.Create(session, weights);
        using var input = session.Upload(Numerics.RandomInputs(8 * info.Dim, 2), 8, info.Dim);

        using var result = layer.Forward(input);

        Assert.Equal(0.01 * Math.Log(4) * Math.Log(4), result.Stats.Losses["router_z"], 6);
    }

    [Fact]
    public void Jitter_and_z_loss_kernels_compile_to_ptx()
    {
        foreach (var (method, entry) in Layers.Kernels(typeof(SwitchJitterZ)))
        {
            var ptx = Ptx.Compile(method, entry.Grouped, 80);
            Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        }
    }
}
