using System;
using Wudao.Distributed;
using Xunit;

namespace Wudao.Distributed.Tests;

public class ExchangeLayoutTests
{
    [Fact]
    public void Packed_offsets_are_exclusive_prefix_sums()
    {
        var offsets = new int[4];
        Assert.Equal(9, ExchangeLayout.Packed([3, 0, 4, 2], offsets));
        Assert.Equal([0, 3, 3, 7], offsets);
    }

    [Fact]
    public void Expert_major_offsets_group_rows_by_local_expert_then_source_rank()
    {
        // 3 ranks, 2 local experts: counts[p * 2 + j] rows from rank p for local expert j.
        int[] counts = [1, 2, 0, 3, 4, 0];
        var offsets = new int[6];
        var starts = new int[3];
        Assert.Equal(10, ExchangeLayout.ExpertMajor(counts, 2, offsets, starts));
        // Expert 0: rank 0 (1 row) at 0, rank 1 (0) at 1, rank 2 (4) at 1; expert 1 from row 5: rank 0 (2), rank 1 (3), rank 2 (0).
        Assert.Equal([0, 5, 1, 7, 1, 10], offsets);
        Assert.Equal([0, 5, 10], starts);
    }

    [Fact]
    public void Layouts_reject_negative_counts_and_mismatched_spans()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ExchangeLayout.Packed([1, -1], new int[2]));
        Assert.Throws<ArgumentException>(() => ExchangeLayout.Packed([1, 1], new int[3]));
        Assert.Throws<ArgumentException>(() => ExchangeLayout.ExpertMajor([1, 1, 1], 2, new int[3], new int[3]));
        Assert.Throws<ArgumentException>(() => ExchangeLayout.ExpertMajor([1, 1], 2, new int[2], new int[2]));
    }
}
