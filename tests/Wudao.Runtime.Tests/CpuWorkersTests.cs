using System;
using System.Threading;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The native thread team: every item once per call, across spinning and sleeping workers.</summary>
public class CpuWorkersTests
{
    private sealed class Counting : CpuKernelSet
    {
        public Counting(int items)
            : base(new[] { "count" }) => Hits = new int[items];

        public int[] Hits { get; }

        public int FailAt { get; set; } = -1;

        public override void Run(int kernel, int item, int worker)
        {
            if (item == FailAt)
            {
                throw new InvalidOperationException($"item {item} failed");
            }

            Interlocked.Increment(ref Hits[item]);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Back_to_back_calls_run_every_item_exactly_once(int threads)
    {
        using var workers = new CpuWorkers(threads);
        var set = new Counting(37);

        for (var call = 0; call < 2000; call++)
        {
            workers.For(set, 0, 37);
        }

        Assert.All(set.Hits, h => Assert.Equal(2000, h));
    }

    [Fact]
    public void Calls_after_the_workers_fell_asleep_still_run_every_item()
    {
        using var workers = new CpuWorkers(3);
        var set = new Counting(9);

        for (var call = 0; call < 5; call++)
        {
            // Far past the spin window: each call wakes workers that sleep.
            Thread.Sleep(20);
            workers.For(set, 0, 9);
        }

        Assert.All(set.Hits, h => Assert.Equal(5, h));
    }

    [Fact]
    public void An_item_that_throws_fails_its_call_and_the_team_stays_usable()
    {
        using var workers = new CpuWorkers(2);
        var set = new Counting(16) { FailAt = 11 };

        var ex = Assert.Throws<InvalidOperationException>(() => workers.For(set, 0, 16));
        set.FailAt = -1;
        workers.For(set, 0, 16);

        Assert.Equal("item 11 failed", ex.Message);
        // The failing call still ran every other item; the next call ran all of them.
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(i == 11 ? 1 : 2, set.Hits[i]);
        }
    }

    [Fact]
    public void Dispose_returns_with_workers_asleep_and_refuses_later_calls()
    {
        var workers = new CpuWorkers(3);
        workers.For(new Counting(4), 0, 4);
        Thread.Sleep(20);

        workers.Dispose();

        Assert.Throws<ObjectDisposedException>(() => workers.For(new Counting(4), 0, 4));
    }
}
