using System.Threading;
using Wudao.GpuRunner.Bench;
using Xunit;

namespace Wudao.GpuRunner.Tests;

public sealed class TimingTests
{
    [Fact]
    public void Every_warm_up_and_run_is_made_and_each_run_synchronised()
    {
        int calls = 0, syncs = 0;

        var sample = Timing.Measure(() => calls++, () => syncs++, warmup: 2, runs: 4, repeat: 3);

        Assert.Equal(4, sample.Ms.Length);
        Assert.Equal(2 + (4 * 3), calls);
        Assert.Equal(2 + 4, syncs);
    }

    [Fact]
    public void A_call_slower_than_the_budget_allows_gets_two_warm_ups_and_three_runs()
    {
        var calls = 0;

        var sample = Timing.Measure(() => { calls++; Thread.Sleep(30); }, () => { }, warmup: 5, runs: 10, budgetMs: 60);

        Assert.Equal(3, sample.Ms.Length);
        Assert.Equal(5, calls);
        Assert.All(sample.Ms, ms => Assert.True(ms >= 29, $"{ms} ms for a 30 ms call"));
    }

    [Fact]
    public void The_median_of_an_even_count_is_the_middle_pair_s_mean()
    {
        Assert.Equal(2.5, new Sample(new[] { 4.0, 1.0, 3.0, 2.0 }).Median);
        Assert.Equal(3.0, new Sample(new[] { 9.0, 1.0, 3.0 }).Median);
        Assert.Equal(1.0, new Sample(new[] { 9.0, 1.0, 3.0 }).Min);
    }
}
