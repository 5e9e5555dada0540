using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Distributed;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// Every token-choice router runs expert-parallel: noisy top-k (noise drawn by global token
/// index, importance and load losses over the global batch), DeepSeek (shared experts placed on
/// the last ranks) and hash routing (token ids per rank). On both targets, N ranks give what one
/// rank gives on the whole batch; expert choice is refused with its reason.
/// </summary>
public sealed class ExpertParallelRouterTests
{
    public static TheoryData<string, int[], DeviceKind> Splits()
    {
        var data = new TheoryData<string, int[], DeviceKind>();
        var cases = new (string, int[])[]
        {
            (nameof(NoisyTop2Gelu), new[] { 13, 0, 9, 14 }),
            (nameof(NoisyTop3ReluTight), new[] { 7, 12, 5 }),     // capacity 0.75: drops decided globally
            (nameof(DeepSeekSwiGlu), new[] { 3, 5, 0, 8, 2, 6, 4 }), // 6 routed + 1 shared expert on 7 ranks
            (nameof(DeepSeekTwoSharedCapped), new[] { 11, 6, 9 }), // the two shared experts on rank 2, capacity on the routed ones
            (nameof(DeepSeekNoShared), new[] { 4, 4, 4, 4, 9 }),
            (nameof(HashRelu), new[] { 10, 21 }),
            (nameof(HashGeluCapped), new[] { 6, 1, 15, 8 }),
        };
        foreach (var kind in new[] { DeviceKind.Native, DeviceKind.Cpu })
        {
            foreach (var (layer, split) in cases)
            {
                data.Add(layer, split, kind);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Splits))]
    public void Ranks_give_the_one_rank_result(string name, int[] split, DeviceKind kind)
    {
        var layer = RouterLayers.All[name];
        var info = layer.Info;
        var total = split.Sum();
        var x = Numerics.RandomInputs(total * info.Dim, seed: 81);
        var ids = RouterLayers.Ids(info, total, seed: 82);
        var weights = MoeWeights.Random(info, 9);
        using var single = Session.Create(kind, threads: 1);
        using var whole = layer.Create(single, weights, 5);
        using var input = single.Upload(x, total, info.Dim);
        using var expected = RouterLayer.Run(whole, input, ids);
        var expectedOutput = expected.Output.ToArray();

        var results = InProcessCommunicator.Run(split.Length, comm =>
        {
            using var session = Session.Create(kind, threads: 1);
            using var moe = layer.Create(session, weights, 5);
            var ep = new ExpertParallelLayer(moe, comm);
            var start = split.Take(comm.Rank).Sum();
            var n = split[comm.Rank];
            using var mine = session.Upload(x.AsSpan(start * info.Dim, n * info.Dim), n, info.Dim);
            using var result = ids != null ? ep.Forward(mine, ids.AsSpan(start, n)) : ep.Forward(mine);
            return (Start: start, Output: result.Output.ToArray(), result.Stats, ep.LastLocalLoad, ep.FirstExpert);
        });

        foreach (var r in results)
        {
            Numerics.Close(expectedOutput.AsSpan(r.Start * info.Dim, r.Output.Length).ToArray(), r.Output, rtol: 0, atol: 0, what: $"rank output from token {r.Start}");
            Assert.Equal(expected.Stats.TokensPerExpert, r.Stats.TokensPerExpert);
            Assert.Equal(expected.Stats.Dropped, r.Stats.Dropped);
            Assert.Equal(expected.Stats.Tokens, r.Stats.Tokens);
            Assert.Equal(expected.Stats.Losses.Keys.OrderBy(k => k), r.Stats.Losses.Keys.OrderBy(k => k));
            foreach (var (loss, value) in expected.Stats.Losses)
            {
                Assert.Equal(value, r.Stats.Losses[loss], 1e-6f);
            }
        }

        // Each rank ran exactly its own experts' rows; a shared expert (DeepSeek) sees every token.
        var load = results.SelectMany(r => r.LastLocalLoad).ToArray();
        Assert.Equal(expected.Stats.TokensPerExpert, load.Take(info.Experts));
        Assert.All(load.Skip(info.Experts), shared => Assert.Equal(total, shared));
    }

    [Fact]
    public void Noisy_top_k_losses_are_those_of_the_global_batch()
    {
        // A rank alone would see other importance and load sums: the losses must not be per rank.
        var layer = RouterLayers.All[nameof(NoisyTop2Gelu)];
        var x = Numerics.RandomInputs(30 * layer.Info.Dim, seed: 83);
        var weights = MoeWeights.Random(layer.Info, 9);
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var moe = layer.Create(session, weights, 5);
        using var half = session.Upload(x.AsSpan(0, 15 * layer.Info.Dim), 15, layer.Info.Dim);
        using var alone = moe.Forward(half);
        var results = InProcessCommunicator.Run(2, comm =>
        {
            using var s = Session.Create(DeviceKind.Native, threads: 1);
            using var m = layer.Create(s, weights, 5);
            using var mine = s.Upload(x.AsSpan(comm.Rank * 15 * layer.Info.Dim, 15 * layer.Info.Dim), 15, layer.Info.Dim);
            using var result = new ExpertParallelLayer(m, comm).Forward(mine);
            return new Dictionary<string, float>(result.Stats.Losses);
        });

        Assert.Equal(results[0], results[1]);
        Assert.NotEqual(alone.Stats.Losses["importance"], results[0]["importance"]);
    }

    [Fact]
    public void Expert_choice_is_refused_with_its_reason()
    {
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
        {
            using var session = Session.Create(DeviceKind.Native, threads: 1);
            using var moe = ExpertChoiceSilu.Create(session, MoeWeights.Random(ExpertChoiceSilu.Info, 1), 1);
            return new ExpertParallelLayer(moe, comm);
        }));

        Assert.All(e.InnerExceptions, x => Assert.Contains("under expert choice every expert ranks the whole global batch", x.Message, StringComparison.Ordinal));
    }
}
