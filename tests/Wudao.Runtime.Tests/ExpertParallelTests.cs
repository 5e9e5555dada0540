using System;
using System.Diagnostics;
using System.Linq;
using Wudao.Distributed;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// Expert parallelism with in-process ranks: N ranks, each with its own session and its slice of
/// the batch, give what one rank gives on the whole batch — outputs, routing counts, drops and
/// the load-balancing loss.
/// </summary>
public sealed class ExpertParallelTests
{
    public static TheoryData<string, int[]> Splits => new()
    {
        { nameof(TopK2Gelu), new[] { 37 } },
        { nameof(TopK2Gelu), new[] { 20, 17 } },
        { nameof(TopK2Gelu), new[] { 10, 0, 20, 7 } },     // a rank with no tokens sends nothing
        { nameof(SwitchRelu), new[] { 9, 15, 1, 12 } },    // capacity 1.0: drops decided globally
        { nameof(GShardSilu), new[] { 30, 5, 26 } },       // random second expert drawn by global token index
        { nameof(TopK4Relu), new[] { 4, 11, 0, 19, 3, 9 } },
        { nameof(TopK3SwiGlu), new[] { 25 } },
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void Ranks_give_the_one_rank_result(string layer, int[] split)
    {
        var (_, info, create) = Layers.All[layer];
        var total = split.Sum();
        var x = Numerics.RandomInputs(total * info.Dim, seed: 77);
        using var single = Session.Create(DeviceKind.Native, threads: 1);
        using var whole = create(single, 5);
        using var input = single.Upload(x, total, info.Dim);
        using var expected = whole.Forward(input);
        var expectedOutput = expected.Output.ToArray();

        var results = OverRanks(create, info.Dim, x, split, (ep, start, result) => (Start: start, Output: result.Output.ToArray(), result.Stats, Load: ep.LastLocalLoad));

        foreach (var r in results)
        {
            Numerics.Close(expectedOutput.AsSpan(r.Start * info.Dim, r.Output.Length).ToArray(), r.Output, rtol: 0, atol: 0, what: $"rank output from token {r.Start}");
            Assert.Equal(expected.Stats.TokensPerExpert, r.Stats.TokensPerExpert);
            Assert.Equal(expected.Stats.Dropped, r.Stats.Dropped);
            Assert.Equal(expected.Stats.Capacity, r.Stats.Capacity);
            Assert.Equal(expected.Stats.Tokens, r.Stats.Tokens);
            Assert.Equal(expected.Stats.AuxLoss, r.Stats.AuxLoss, 1e-6f);
        }

        // Each rank ran exactly its own experts' rows.
        Assert.Equal(expected.Stats.TokensPerExpert, results.SelectMany(r => r.Load));
    }

    [Fact]
    public void The_z_loss_is_the_one_rank_loss_over_every_rank()
    {
        // Switch with jitter (drawn by global token index) and router_z: the route's losses are global.
        var info = SwitchJitterZ.Info;
        int[] split = { 14, 9 };
        var x = Numerics.RandomInputs(23 * info.Dim, seed: 79);
        using var single = Session.Create(DeviceKind.Native, threads: 1);
        using var whole = SwitchJitterZ.Create(single, 5);
        using var input = single.Upload(x, 23, info.Dim);
        using var expected = whole.Forward(input);

        var results = OverRanks((s, seed) => SwitchJitterZ.Create(s, seed), info.Dim, x, split, (_, start, result) => (Start: start, result.Stats, Output: result.Output.ToArray()));

        Assert.True(expected.Stats.Losses["router_z"] > 0f);
        foreach (var r in results)
        {
            Assert.Equal(expected.Stats.Losses["router_z"], r.Stats.Losses["router_z"], 1e-6f);
            Assert.Equal(expected.Stats.AuxLoss, r.Stats.AuxLoss, 1e-6f);
            Assert.Equal(expected.Stats.Losses.Keys.OrderBy(k => k), r.Stats.Losses.Keys.OrderBy(k => k));
            Assert.Equal(expected.Output.ToArray().AsSpan(r.Start * info.Dim, r.Output.Length).ToArray(), r.Output);
        }
    }

    [Fact]
    public void Non_finite_tokens_are_counted_over_every_rank_as_on_one()
    {
        var (_, info, create) = Layers.All[nameof(TopK2Gelu)];
        int[] split = { 20, 17 };
        var x = Numerics.RandomInputs(37 * info.Dim, seed: 78);
        x[3 * info.Dim] = float.NaN;
        x[(30 * info.Dim) + 1] = float.PositiveInfinity;
        using var single = Session.Create(DeviceKind.Native, threads: 1);
        using var whole = create(single, 5);
        using var input = single.Upload(x, 37, info.Dim);
        using var expected = whole.Forward(input);

        var results = OverRanks(create, info.Dim, x, split, (_, _, result) => (result.Stats.NonFinite, Output: result.Output.ToArray()));

        Assert.Equal(2, expected.Stats.NonFinite);
        Assert.All(results, r => Assert.Equal(2, r.NonFinite));
        Assert.True(float.IsNaN(results[0].Output[3 * info.Dim]) && float.IsNaN(results[1].Output[10 * info.Dim]), "the non-finite tokens' rows are NaN on their ranks");
    }

    [Fact]
    public void An_expert_that_receives_nothing_is_fine()
    {
        // Identical tokens all choose the same two experts; the other two get no rows at all.
        var info = TopK2Gelu.Info;
        var x = Enumerable.Repeat(0.3f, 12 * info.Dim).ToArray();
        var results = InProcessCommunicator.Run(2, comm =>
        {
            using var session = Session.Create(DeviceKind.Native, threads: 1);
            using var moe = TopK2Gelu.Create(session, 5);
            var ep = new ExpertParallelLayer(moe, comm);
            using var mine = session.Upload(x.AsSpan(comm.Rank * 6 * info.Dim, 6 * info.Dim), 6, info.Dim);
            using var result = ep.Forward(mine);
            return result.Stats.TokensPerExpert.ToArray();
        });

        Assert.Equal(2, results[0].Count(c => c == 0));
        Assert.Equal(24, results[0].Sum());
    }

    [Fact]
    public void Experts_that_do_not_divide_over_the_ranks_are_a_clear_error()
    {
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
        {
            using var session = Session.Create(DeviceKind.Native, threads: 1);
            using var moe = GShardSilu.Create(session, 1);
            return new ExpertParallelLayer(moe, comm);
        }));

        Assert.All(e.InnerExceptions, x => Assert.Contains("3 experts cannot be split evenly over 2 ranks", x.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_rank_that_fails_makes_the_others_stop_with_a_clear_error()
    {
        var info = TopK2Gelu.Info;
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(4, comm =>
        {
            using var session = Session.Create(DeviceKind.Native, threads: 1);
            using var moe = TopK2Gelu.Create(session, 1);
            var ep = new ExpertParallelLayer(moe, comm);
            if (comm.Rank == 1)
            {
                throw new InvalidOperationException("rank 1 lost its input");
            }

            using var mine = session.Upload(new float[4 * info.Dim], 4, info.Dim);
            using var result = ep.Forward(mine);
            return 0;
        }, timeout: TimeSpan.FromSeconds(5)));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.Contains(e.InnerExceptions, x => x.Message.Contains("rank 1 lost its input", StringComparison.Ordinal));
        Assert.Equal(3, e.InnerExceptions.Count(x => x is CommunicatorException));
    }

    [Fact]
    public void A_layer_declared_for_two_ranks_prints_its_schedule_and_refuses_four()
    {
        Assert.Contains("expert parallel over 2 ranks (experts 0-1 on rank 0, 2-3 on rank 1)", DeclaredTwoRanks.Info.PlanText, StringComparison.Ordinal);
        Assert.Contains("all-to-all-v  rows into expert-contiguous receive segments", DeclaredTwoRanks.Info.PlanText, StringComparison.Ordinal);

        var e = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(4, comm =>
        {
            using var session = Session.Create(DeviceKind.Native, threads: 1);
            using var moe = DeclaredTwoRanks.Create(session, 1);
            return new ExpertParallelLayer(moe, comm);
        }));

        Assert.All(e.InnerExceptions, x => Assert.Contains("declared with [ExpertParallel(Ranks = 2)] but runs on 4 ranks", x.Message, StringComparison.Ordinal));
    }

    /// <summary>Each rank of an in-process group runs the layer (seed 5) over its slice of <paramref name="x"/>; <paramref name="read"/> takes what the test checks.</summary>
    private static T[] OverRanks<T>(Func<Session, ulong, IMoeLayer> create, int dim, float[] x, int[] split, Func<ExpertParallelLayer, int, MoeResult, T> read) =>
        InProcessCommunicator.Run(split.Length, comm =>
        {
            using var session = Session.Create(DeviceKind.Native, threads: 1);
            using var moe = create(session, 5);
            var ep = new ExpertParallelLayer(moe, comm);
            var start = split.Take(comm.Rank).Sum();
            using var mine = session.Upload(x.AsSpan(start * dim, split[comm.Rank] * dim), split[comm.Rank], dim);
            using var result = ep.Forward(mine);
            return read(ep, start, result);
        });
}
