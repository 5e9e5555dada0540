using System;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Balance summaries and the accumulator, on hand-computed values.</summary>
public sealed class StatisticsTests
{
    [Fact]
    public void Balance_summaries_match_hand_computed_values()
    {
        var stats = new MoeStats(10, 0, new[] { 2, 4, 6, 8 }, 1, 0.25f);

        // mean 5, population variance (9 + 1 + 1 + 9) / 4 = 5.
        Assert.Equal(Math.Sqrt(5) / 5, stats.LoadCv, 12);
        Assert.Equal(8 / 5.0, stats.MaxOverMean, 12);
        Assert.Equal(20, stats.KeptRows);
        Assert.Equal(0.25f, stats.Losses["load_balance"]);
        Assert.Contains("load CV 0.447, max/mean 1.60", stats.ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public void Even_and_empty_loads_have_no_imbalance()
    {
        Assert.Equal(0, new MoeStats(8, 0, new[] { 4, 4 }, 0, 0).LoadCv);
        Assert.Equal(1, new MoeStats(8, 0, new[] { 4, 4 }, 0, 0).MaxOverMean);
        Assert.Equal(0, new MoeStats(0, 0, new[] { 0, 0 }, 0, 0).LoadCv);
        Assert.Equal(0, new MoeStats(0, 0, new[] { 0, 0 }, 0, 0).MaxOverMean);
    }

    [Fact]
    public void Accumulator_sums_loads_and_averages_losses()
    {
        var total = new MoeStatsAccumulator();
        total.Add(new MoeStats(3, 2, new[] { 2, 1, 0 }, 1, 0.5f));
        total.Add(new MoeStats(4, 2, new[] { 0, 2, 2 }, 2, 1.5f));

        Assert.Equal(2, total.Calls);
        Assert.Equal(7, total.Tokens);
        Assert.Equal(3, total.Dropped);
        Assert.Equal(new long[] { 2, 3, 2 }, total.TokensPerExpert);
        Assert.Equal(1.0, total.MeanLosses["load_balance"], 6);
        Assert.Equal(3 / (7 / 3.0), total.MaxOverMean, 12);
        Assert.Contains("2 calls, 7 tokens, dropped 3", total.ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public void Accumulator_refuses_statistics_of_another_layer()
    {
        var total = new MoeStatsAccumulator();
        total.Add(new MoeStats(1, 0, new[] { 1, 0 }, 0, 0));

        var e = Assert.Throws<ArgumentException>(() => total.Add(new MoeStats(1, 0, new[] { 1, 0, 0 }, 0, 0)));

        Assert.Contains("3 experts cannot be added to those of 2", e.Message, StringComparison.Ordinal);
    }
}
