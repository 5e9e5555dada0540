using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;

namespace Wudao.Tool.Checkpoints;

/// <summary>
/// A checkpoint folder: every <c>*.safetensors</c> in it, checked one by one, and the
/// <c>model.safetensors.index.json</c> when there is one, checked against the shards — each
/// indexed tensor lies in the shard the index names, and every shard's tensor is indexed. No
/// tensor may be in two shards.
/// </summary>
/// <param name="Shards">Each shard's check, by file name.</param>
/// <param name="Index">The index file, or null.</param>
/// <param name="Indexed">How many tensors the index maps (0 without one).</param>
/// <param name="Problems">Problems of the folder as a whole (the shards' own are in each shard).</param>
public sealed record CheckpointFolder(IReadOnlyList<ShardCheck> Shards, string? Index, int Indexed, IReadOnlyList<string> Problems)
{
    public const string IndexName = "model.safetensors.index.json";

    /// <summary>
    /// The index's <c>metadata.total_size</c>. Reported beside the shards' bytes, not checked:
    /// writers count shared and tied tensors differently, so a valid checkpoint may disagree.
    /// </summary>
    public long? TotalSize { get; init; }

    public static CheckpointFolder Read(string folder, Action<string> status)
    {
        var files = Directory.GetFiles(folder, "*.safetensors").OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            throw new ToolException($"{folder}: no .safetensors files");
        }

        var shards = new List<ShardCheck>();
        foreach (var f in files)
        {
            status($"reading {Path.GetFileName(f)}");
            shards.Add(ShardCheck.Read(f));
        }

        var index = Path.Combine(folder, IndexName);
        if (!File.Exists(index))
        {
            return new CheckpointFolder(shards, null, 0, Duplicates(folder, shards).ToList());
        }

        var problems = new List<string>();
        var map = ReadIndex(index, problems, out var totalSize);
        if (map != null)
        {
            CheckAgainstShards(index, map, shards, problems);
        }

        problems.AddRange(Duplicates(folder, shards));

        return new CheckpointFolder(shards, index, map?.Count ?? 0, problems) { TotalSize = totalSize };
    }

    /// <summary>Tensor name → shard file name, as the index's <c>weight_map</c> says; null (with a problem) when unreadable.</summary>
    private static Dictionary<string, string>? ReadIndex(string index, List<string> problems, out long? totalSize)
    {
        totalSize = null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var weights) || weights.ValueKind != JsonValueKind.Object)
            {
                problems.Add($"{index}: has no \"weight_map\" object");
                return null;
            }

            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object
                && meta.TryGetProperty("total_size", out var total) && total.ValueKind == JsonValueKind.Number && total.TryGetInt64(out var t))
            {
                totalSize = t;
            }

            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in weights.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    problems.Add($"{index}: tensor '{p.Name}' maps to {p.Value.ValueKind}, not a shard file name");
                    continue;
                }

                map[p.Name] = p.Value.GetString()!;
            }

            return map;
        }
        catch (JsonException e)
        {
            problems.Add($"{index}: not valid JSON ({e.Message})");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{index}: cannot be read ({e.Message})");
            return null;
        }
    }

    private static void CheckAgainstShards(string index, Dictionary<string, string> map, List<ShardCheck> shards, List<string> problems)
    {
        var byFile = shards.ToDictionary(s => Path.GetFileName(s.Path), StringComparer.Ordinal);
        var holders = shards.SelectMany(s => s.Entries.Select(e => (e.Name, File: Path.GetFileName(s.Path))))
            .ToLookup(x => x.Name, x => x.File, StringComparer.Ordinal);
        foreach (var missing in map.Values.Distinct().Where(f => !byFile.ContainsKey(f)).OrderBy(f => f, StringComparer.Ordinal))
        {
            problems.Add($"{index}: names shard '{missing}', which is not in the folder");
        }

        foreach (var (name, file) in map.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)))
        {
            if (!byFile.TryGetValue(file, out var shard) || (shard.Problems.Count > 0 && shard.Entries.Count == 0))
            {
                continue; // A missing or unreadable shard is reported once, not per tensor.
            }

            if (!shard.Entries.Any(e => e.Name == name))
            {
                var elsewhere = holders[name].ToList();
                problems.Add(elsewhere.Count > 0
                    ? $"{index}: tensor '{name}' is indexed in {file} but lies in {string.Join(", ", elsewhere)}"
                    : $"{index}: tensor '{name}' is indexed in {file} but no shard holds it");
            }
        }

        foreach (var (name, file) in holders.SelectMany(g => g.Select(f => (g.Key, f))).Where(x => !map.ContainsKey(x.Key)).OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            problems.Add($"{index}: tensor '{name}' in {file} is not in the index");
        }

    }

    /// <summary>A tensor name held by more than one shard: a loader would pick one of them silently.</summary>
    private static IEnumerable<string> Duplicates(string folder, IEnumerable<ShardCheck> shards) =>
        shards.SelectMany(s => s.Entries.Select(e => (e.Name, File: Path.GetFileName(s.Path))))
            .GroupBy(x => x.Name, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{folder}: tensor '{g.Key}' is in {g.Count()} shards ({string.Join(", ", g.Select(x => x.File))})");
}
