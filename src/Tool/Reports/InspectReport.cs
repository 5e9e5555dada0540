using System.Collections.Generic;
using System.IO;
using System.Linq;
using Wudao.Tool.Checkpoints;

namespace Wudao.Tool.Reports;

/// <summary>
/// What <c>wudao inspect</c> prints: per file, its tensors (name, dtype, shape, parameters, bytes)
/// in data order, totals and metadata; for a folder, the totals over its shards and the index.
/// Problems go to the error stream, one sentence each.
/// </summary>
public static class InspectReport
{
    /// <summary>Writes one file's report; returns its problems.</summary>
    public static IReadOnlyList<string> Write(TextWriter w, ShardCheck shard)
    {
        var name = DisplayPath.Of(shard.Path);
        w.WriteLine($"{name}: {Sizes.BytesInWords(shard.FileBytes)}, header {Sizes.Count(shard.HeaderBytes)} bytes");
        if (shard.Entries.Count == 0 && shard.Problems.Count > 0)
        {
            w.WriteLine("  unreadable: see the problems reported");
            return shard.Problems;
        }

        var table = new TextTable("tensor", "dtype", "shape", ">parameters", ">bytes");
        foreach (var e in shard.Entries)
        {
            table.Add(e.Name, e.DType, "[" + string.Join(", ", e.Shape) + "]", Sizes.Count(e.Shape.Aggregate(1L, (a, d) => a * d)), Sizes.Bytes(e.End - e.Begin));
        }

        table.Total($"{shard.Entries.Count} tensors", Dtypes(shard.Entries), "", Sizes.Count(shard.Parameters), Sizes.Bytes(shard.TensorBytes));
        w.Write(table.Render());
        w.WriteLine(shard.Metadata.Count == 0
            ? "  metadata: none"
            : "  metadata: " + string.Join(", ", shard.Metadata.OrderBy(kv => kv.Key, System.StringComparer.Ordinal).Select(kv => $"{kv.Key} = {kv.Value}")));
        return shard.Problems;
    }

    /// <summary>Writes every shard's report, then the folder's totals and index; returns every problem.</summary>
    public static IReadOnlyList<string> Write(TextWriter w, string folder, CheckpointFolder checkpoint)
    {
        var problems = new List<string>();
        foreach (var shard in checkpoint.Shards)
        {
            problems.AddRange(Write(w, shard));
            w.WriteLine();
        }

        var entries = checkpoint.Shards.SelectMany(s => s.Entries).ToList();
        w.WriteLine($"{DisplayPath.Of(folder)}: {checkpoint.Shards.Count} {(checkpoint.Shards.Count == 1 ? "shard" : "shards")}, "
            + $"{Sizes.Count(entries.Count)} tensors ({Dtypes(entries)}), {Sizes.Count(checkpoint.Shards.Sum(s => s.Parameters))} parameters, {Sizes.BytesInWords(checkpoint.Shards.Sum(s => s.TensorBytes))}");
        w.WriteLine(checkpoint.Index == null
            ? $"  index: none ({CheckpointFolder.IndexName} absent)"
            : $"  index: {Path.GetFileName(checkpoint.Index)} maps {Sizes.Count(checkpoint.Indexed)} tensors{TotalSize(checkpoint)}");
        problems.AddRange(checkpoint.Problems);
        return problems;
    }

    private static string TotalSize(CheckpointFolder checkpoint)
    {
        var bytes = checkpoint.Shards.Sum(s => s.TensorBytes);
        return checkpoint.TotalSize switch
        {
            null => "",
            { } t when t == bytes => $", total_size {Sizes.Count(t)} bytes as the shards hold",
            { } t => $", total_size {Sizes.Count(t)} bytes but the shards hold {Sizes.Count(bytes)} (a note: writers count tied tensors differently)",
        };
    }

    /// <summary>Tensor counts per dtype: <c>F32 ×3, BF16 ×2</c>.</summary>
    private static string Dtypes(IEnumerable<SafeTensorEntry> entries) =>
        string.Join(", ", entries.GroupBy(e => e.DType).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, System.StringComparer.Ordinal).Select(g => $"{g.Key} ×{g.Count()}"));
}
