using System;
using Xunit;

namespace Wudao.Runtime.Tests.Charts;

/// <summary>Recording expert load step by step: per-call statistics, accumulator snapshots, and misuse.</summary>
public sealed class ExpertLoadHistoryTests
{
    [Fact]
    public void Accumulator_snapshots_record_what_ran_since_the_last_one()
    {
        var load = new[] { new MoeStatsAccumulator(), new MoeStatsAccumulator() };
        var history = new ExpertLoadHistory(["layers.1.moe", "layers.3.moe"]);
        load[0].Add(Stats(5, 0, 1));
        load[1].Add(Stats(0, 3, 3));
        history.Record(load);
        load[0].Add(Stats(1, 1, 4));
        load[0].Add(Stats(2, 0, 0)); // two calls in one step
        load[1].Add(Stats(1, 1, 1));
        history.Record(load);

        Assert.Equal(2, history.Steps);
        Assert.Equal(new long[] { 5, 0, 1 }, history.Load(0, 0));
        Assert.Equal(new long[] { 3, 1, 4 }, history.Load(0, 1));
        Assert.Equal(new long[] { 1, 1, 1 }, history.Load(1, 1));
        Assert.Equal(new long[] { 8, 1, 5 }, history.Total(0));
        Assert.Equal(0, history.LoadCv(1)[1]);
        Assert.Equal(Cv(8, 1, 5), history.CumulativeLoadCv(0)[1], 12);
        Assert.Equal(new[] { 8 / 14.0, 1 / 14.0, 5 / 14.0 }, history.Shares()[0]);
    }

    [Fact]
    public void StartFrom_leaves_out_what_ran_before()
    {
        var load = new[] { new MoeStatsAccumulator() };
        load[0].Add(Stats(100, 0));
        var history = new ExpertLoadHistory();
        history.StartFrom(load);
        load[0].Add(Stats(1, 2));
        history.Record(load);

        Assert.Equal(["block 0"], history.Blocks);
        Assert.Equal(new long[] { 1, 2 }, history.Load(0, 0));
    }

    [Fact]
    public void StartFrom_before_any_call_counts_from_zero()
    {
        var load = new[] { new MoeStatsAccumulator() };
        var history = new ExpertLoadHistory();
        history.StartFrom(load);
        load[0].Add(Stats(3, 4));
        history.Record(load);

        Assert.Equal(new long[] { 3, 4 }, history.Load(0, 0));
    }

    [Fact]
    public void Per_call_statistics_add_blocks_by_name_in_first_seen_order()
    {
        var history = new ExpertLoadHistory();
        history.Record("Switch", Stats(1, 2));
        history.Record("TopK", Stats(3, 4));
        history.Record("Switch", Stats(5, 6));

        Assert.Equal(["Switch", "TopK"], history.Blocks);
        Assert.Equal(2, history.StepsOf(0));
        Assert.Equal(1, history.StepsOf(1));
        Assert.Equal(2, history.Steps);
        Assert.Equal(new long[] { 5, 6 }, history.Load(0, 1));
    }

    [Fact]
    public void A_step_with_another_expert_count_is_refused_naming_the_block()
    {
        var history = new ExpertLoadHistory();
        history.Record("TopK", Stats(1, 2));

        var e = Assert.Throws<ArgumentException>(() => history.Record("TopK", Stats(1, 2, 3)));

        Assert.Contains("a step of 3 experts cannot follow block 'TopK''s steps of 2", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, history.StepsOf(0));
    }

    [Fact]
    public void Accumulators_that_do_not_match_the_blocks_are_refused()
    {
        var history = new ExpertLoadHistory(["a", "b"]);
        var one = new[] { new MoeStatsAccumulator() };
        one[0].Add(Stats(1));

        var count = Assert.Throws<ArgumentException>(() => history.Record(one));
        Assert.Contains("1 accumulators for the 2 blocks", count.Message, StringComparison.Ordinal);

        var two = new[] { new MoeStatsAccumulator(), new MoeStatsAccumulator() };
        two[0].Add(Stats(1, 1));
        var idle = Assert.Throws<ArgumentException>(() => history.Record(two));
        Assert.Contains("block 'b' has counted no call yet", idle.Message, StringComparison.Ordinal);

        two[1].Add(Stats(5, 5));
        history.Record(two);
        var fresh = new[] { new MoeStatsAccumulator(), new MoeStatsAccumulator() };
        fresh[0].Add(Stats(1, 1));
        fresh[1].Add(Stats(1, 1));
        var other = Assert.Throws<ArgumentException>(() => history.Record(fresh));
        Assert.Contains("block 'b' counts fewer tokens than at the last snapshot", other.Message, StringComparison.Ordinal);

        var wider = new[] { new MoeStatsAccumulator(), new MoeStatsAccumulator() };
        wider[0].Add(Stats(9, 9, 9));
        wider[1].Add(Stats(9, 9));
        var experts = Assert.Throws<ArgumentException>(() => history.Record(wider));
        Assert.Contains("block 'a' had 2 experts at the last snapshot and has 3 now", experts.Message, StringComparison.Ordinal);
        Assert.Equal(1, history.Steps);
    }

    [Fact]
    public void Empty_and_negative_steps_and_duplicate_names_are_refused()
    {
        var history = new ExpertLoadHistory();

        Assert.Contains("has no experts", Assert.Throws<ArgumentException>(() => history.Record("a", Array.Empty<long>())).Message, StringComparison.Ordinal);
        Assert.Contains("negative token count", Assert.Throws<ArgumentException>(() => history.Record("a", new long[] { 1, -1 })).Message, StringComparison.Ordinal);
        Assert.Contains("'x' appears twice", Assert.Throws<ArgumentException>(() => new ExpertLoadHistory(["x", "y", "x"])).Message, StringComparison.Ordinal);
        Assert.Empty(history.Blocks);
        Assert.Throws<ArgumentOutOfRangeException>(() => history.Load(0, 0));
    }

    internal static MoeStats Stats(params int[] tokensPerExpert)
    {
        var tokens = 0;
        foreach (var n in tokensPerExpert)
        {
            tokens += n;
        }

        return new MoeStats(tokens, 0, tokensPerExpert, 0, 0f);
    }

    /// <summary>Population standard deviation over mean, written out here so the chart is checked against an independent value.</summary>
    internal static double Cv(params long[] load)
    {
        double sum = 0;
        foreach (var n in load)
        {
            sum += n;
        }

        var mean = sum / load.Length;
        if (mean == 0)
        {
            return 0;
        }

        double squares = 0;
        foreach (var n in load)
        {
            squares += (n - mean) * (n - mean);
        }

        return Math.Sqrt(squares / load.Length) / mean;
    }
}
