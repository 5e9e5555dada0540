using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using Wudao.Distributed;
using Wudao.MpiRank;
using Xunit;

namespace Wudao.Distributed.Tests;

public class InProcessTests
{
    // Healthy groups get a generous timeout so a busy machine never trips it; the failure tests
    // set their own.
    private static readonly TimeSpan Healthy = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void AllToAll_gives_each_rank_the_block_every_peer_addressed_to_it(int size)
    {
        InProcessCommunicator.Run(size, comm => { Scenarios.BlockExchange(comm, new Digest()); return 0; }, Healthy);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void AllToAllV_moves_uneven_packed_rows_including_a_silent_rank_and_empty_blocks(int size)
    {
        InProcessCommunicator.Run(size, comm => { Scenarios.PackedRows(comm, new Digest()); return 0; }, Healthy);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void The_moe_round_trip_lands_rows_expert_contiguously_and_brings_them_back(int size)
    {
        InProcessCommunicator.Run(size, comm => { Scenarios.MoeRoundTrip(comm, new Digest()); return 0; }, Healthy);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void AllReduceSum_adds_in_rank_order_on_every_rank(int size)
    {
        InProcessCommunicator.Run(size, comm => { Scenarios.Reductions(comm, new Digest()); return 0; }, Healthy);
    }

    [Fact]
    public void A_small_exchange_matches_values_written_out_by_hand()
    {
        // Two ranks, rows of two floats: rank 0 keeps 1 row and sends 2; rank 1 sends 1 row to rank 0 and none to itself.
        var results = InProcessCommunicator.Run(
            2,
            comm =>
            {
                float[] send = comm.Rank == 0 ? [1, 2, 3, 4, 5, 6] : [7, 8];
                int[] sendCounts = comm.Rank == 0 ? [1, 2] : [1, 0];
                int[] recvCounts = comm.Rank == 0 ? [1, 1] : [2, 0];
                var recv = new float[4];
                comm.AllToAllV(send, sendCounts, recv, recvCounts, 2);
                var counts = new int[2];
                comm.AllToAll(sendCounts, counts);
                float[] sum = [comm.Rank + 0.5f];
                comm.AllReduceSum(sum);
                return (recv, counts, sum[0]);
            },
            Healthy);
        Assert.Equal([1f, 2, 7, 8], results[0].recv);
        Assert.Equal([3f, 4, 5, 6], results[1].recv);
        Assert.Equal([1, 1], results[0].counts);
        Assert.Equal([2, 0], results[1].counts);
        Assert.Equal(2f, results[0].Item3);
        Assert.Equal(2f, results[1].Item3);
    }

    [Fact]
    public void Thousands_of_mixed_collectives_stay_in_step()
    {
        const int size = 4, rounds = 1500, row = 3;
        static int Count(int source, int target, int round) => ((source * 7) + (target * 3) + round) % 5;
        InProcessCommunicator.Run(
            size,
            comm =>
            {
                var rank = comm.Rank;
                for (var round = 0; round < rounds; round++)
                {
                    var sendCounts = Enumerable.Range(0, size).Select(p => Count(rank, p, round)).ToArray();
                    var recvCounts = Enumerable.Range(0, size).Select(p => Count(p, rank, round)).ToArray();
                    var send = new float[sendCounts.Sum() * row];
                    var k = 0;
                    for (var p = 0; p < size; p++)
                    {
                        for (var i = 0; i < sendCounts[p] * row; i++)
                        {
                            send[k++] = (rank * 10000) + (p * 1000) + (round % 100 * 10) + i;
                        }
                    }

                    var recv = new float[recvCounts.Sum() * row];
                    comm.AllToAllV(send, sendCounts, recv, recvCounts, row);
                    k = 0;
                    for (var p = 0; p < size; p++)
                    {
                        for (var i = 0; i < recvCounts[p] * row; i++)
                        {
                            Assert.Equal((p * 10000) + (rank * 1000) + (round % 100 * 10) + i, recv[k++]);
                        }
                    }

                    int[] total = [round, rank];
                    comm.AllReduceSum(total);
                    Assert.Equal([round * size, size * (size - 1) / 2], total);
                    if (round % 7 == 0)
                    {
                        comm.Barrier();
                    }
                }

                return 0;
            },
            Healthy);
    }

    [Fact]
    public void A_rank_that_throws_mid_exchange_fails_the_others_at_once_naming_it()
    {
        // The timeout is long: the peers must fail because rank 2 left, not because they waited it out.
        var watch = Stopwatch.StartNew();
        var error = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(
            4,
            comm =>
            {
                var counts = new int[comm.Size];
                var received = new int[comm.Size];
                comm.AllToAll(counts, received);
                if (comm.Rank == 2)
                {
                    throw new InvalidOperationException("deliberate failure on rank 2");
                }

                comm.AllToAllV(new float[4], [1, 1, 1, 1], new float[4], [1, 1, 1, 1], 1);
                return 0;
            },
            TimeSpan.FromSeconds(30)));
        watch.Stop();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"the peers took {watch.Elapsed} to fail");
        Assert.Equal(4, error.InnerExceptions.Count);
        Assert.Contains(error.InnerExceptions, e => e is InvalidOperationException && e.Message.Contains("rank 2", StringComparison.Ordinal));
        var peers = error.InnerExceptions.OfType<CommunicatorException>().ToArray();
        Assert.Equal(3, peers.Length);
        Assert.All(peers, e =>
        {
            Assert.Equal(2, e.FailedRank);
            Assert.Contains("rank 2 left the group", e.Message, StringComparison.Ordinal);
            Assert.Contains("AllToAllV", e.Message, StringComparison.Ordinal);
        });
        Assert.Contains("rank 2 failed: deliberate failure", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_rank_that_stops_calling_makes_the_others_time_out_naming_it()
    {
        var ranks = InProcessCommunicator.Create(3, TimeSpan.FromSeconds(2));
        var errors = new Exception?[3];
        var elapsed = new TimeSpan[3];
        var threads = ranks.Select(comm => new Thread(() =>
        {
            var watch = Stopwatch.StartNew();
            try
            {
                comm.Barrier();
                if (comm.Rank != 1)
                {
                    comm.AllReduceSum(new float[3]); // rank 1 never comes (and is not disposed)
                }
            }
            catch (CommunicatorException ex)
            {
                errors[comm.Rank] = ex;
            }

            elapsed[comm.Rank] = watch.Elapsed;
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(30)), "a rank hung");
        }

        Assert.Null(errors[1]);
        foreach (var r in new[] { 0, 2 })
        {
            var e = Assert.IsType<CommunicatorException>(errors[r]);
            Assert.Equal(1, e.FailedRank);
            Assert.Contains("timed out after 2 s in AllReduceSum(float) waiting for rank 1", e.Message, StringComparison.Ordinal);
            Assert.InRange(elapsed[r], TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(10));
        }

        foreach (var comm in ranks)
        {
            comm.Dispose();
        }
    }

    [Fact]
    public void Disposing_a_rank_while_its_peers_wait_fails_them_at_once()
    {
        var ranks = InProcessCommunicator.Create(3, TimeSpan.FromSeconds(30));
        var errors = new Exception?[2];
        var watch = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            try
            {
                ranks[r].AllToAll(new int[3], new int[3]);
            }
            catch (CommunicatorException ex)
            {
                errors[r] = ex;
            }
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        Thread.Sleep(100);
        ranks[2].Dispose();
        foreach (var t in threads)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(10)), "a rank hung");
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"the peers took {watch.Elapsed} to fail");
        Assert.All(errors, e => Assert.Equal(2, Assert.IsType<CommunicatorException>(e).FailedRank));
        Assert.Throws<ObjectDisposedException>(() => ranks[2].Barrier());

        // A broken group stays broken: the next collective fails at once, naming the same rank.
        var again = Assert.Throws<CommunicatorException>(() => ranks[0].Barrier());
        Assert.Equal(2, again.FailedRank);
    }

    [Fact]
    public void A_second_thread_on_the_same_rank_is_refused()
    {
        var ranks = InProcessCommunicator.Create(2, TimeSpan.FromSeconds(30));
        Exception? first = null;
        var waiting = new Thread(() =>
        {
            try
            {
                ranks[0].Barrier(); // waits for rank 1, which never comes
            }
            catch (CommunicatorException ex)
            {
                first = ex;
            }
        });
        waiting.Start();
        Thread.Sleep(100);

        var second = Assert.Throws<InvalidOperationException>(() => ranks[0].AllReduceSum(new int[1]));
        Assert.Contains("rank 0 is already in a collective on another thread", second.Message, StringComparison.Ordinal);

        ranks[1].Dispose();
        Assert.True(waiting.Join(TimeSpan.FromSeconds(10)), "rank 0 hung");
        Assert.Equal(1, Assert.IsType<CommunicatorException>(first).FailedRank);
        ranks[0].Dispose();
    }

    [Fact]
    public void Counts_that_disagree_fail_every_rank_naming_the_pair()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(
            2,
            comm =>
            {
                // Rank 0 sends 2 rows to rank 1, which expects 3.
                int[] sendCounts = comm.Rank == 0 ? [0, 2] : [0, 0];
                int[] recvCounts = comm.Rank == 0 ? [0, 0] : [3, 0];
                comm.AllToAllV(new float[8], sendCounts, new float[8], recvCounts, 2);
                return 0;
            },
            Healthy));
        Assert.Equal(2, error.InnerExceptions.Count);
        Assert.All(error.InnerExceptions, e =>
        {
            var c = Assert.IsType<CommunicatorException>(e);
            Assert.Equal(0, c.FailedRank);
            Assert.Contains("rank 0 sends 2 rows to rank 1, but rank 1 expects 3 rows from rank 0", c.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Ranks_in_different_collectives_fail_naming_both()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(
            2,
            comm =>
            {
                if (comm.Rank == 0)
                {
                    comm.Barrier();
                }
                else
                {
                    comm.AllReduceSum(new int[2]);
                }

                return 0;
            },
            Healthy));
        Assert.All(error.InnerExceptions, e =>
        {
            var c = Assert.IsType<CommunicatorException>(e);
            Assert.Matches("rank [01] called (Barrier|AllReduceSum\\(int\\)) while rank [01] called (Barrier|AllReduceSum\\(int\\))", c.Message);
        });
    }

    [Fact]
    public void Invalid_arguments_throw_on_the_caller_and_fail_its_peers()
    {
        var error = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(
            2,
            comm =>
            {
                // Rank 1's receive buffer is too short for the 2 rows of 3 floats it expects.
                var recv = new float[comm.Rank == 1 ? 5 : 6];
                comm.AllToAllV(new float[6], [1, 1], recv, [1, 1], 3);
                return 0;
            },
            TimeSpan.FromSeconds(30)));
        var caller = error.InnerExceptions.OfType<ArgumentException>().Single();
        Assert.Contains("runs past the buffer of 5 floats", caller.Message, StringComparison.Ordinal);
        var peer = Assert.IsType<CommunicatorException>(error.InnerExceptions.Single(e => e is not ArgumentException));
        Assert.Equal(1, peer.FailedRank);
        Assert.Contains("rank 1 called AllToAllV with invalid arguments", peer.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlapping_receive_segments_and_aliased_buffers_are_rejected()
    {
        var comm = InProcessCommunicator.Create(1)[0];
        // Segment 1 (rows 1..2) lies inside segment 0 (rows 0..2).
        var overlap = Assert.Throws<ArgumentException>(() => comm.AllToAllV(new float[4], [1, 1], [0, 1], new float[4], [2, 1], [0, 1], 1));
        Assert.Contains("overlaps", overlap.Message, StringComparison.Ordinal);

        var comm2 = InProcessCommunicator.Create(1)[0];
        var buffer = new float[4];
        var aliased = Assert.Throws<ArgumentException>(() => comm2.AllToAllV(buffer, [2], buffer.AsSpan(2), [2], 1));
        Assert.Contains("overlap", aliased.Message, StringComparison.Ordinal);
    }
}
