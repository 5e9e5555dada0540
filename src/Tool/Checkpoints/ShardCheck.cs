using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Wudao.Tool.Checkpoints;

/// <summary>One safetensors file as read: its tensors in data order, its metadata, and what is wrong with it.</summary>
/// <param name="Path">The file.</param>
/// <param name="FileBytes">Its length.</param>
/// <param name="HeaderBytes">The JSON header's length (0 when the file is too broken to tell).</param>
/// <param name="Entries">Its tensors by data offset; empty when the header could not be read.</param>
/// <param name="Metadata">The header's <c>__metadata__</c>.</param>
/// <param name="Problems">Each problem, as a sentence naming the file; none for a good file.</param>
public sealed record ShardCheck(string Path, long FileBytes, long HeaderBytes, IReadOnlyList<SafeTensorEntry> Entries, IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<string> Problems)
{
    /// <summary>
    /// Reads <paramref name="path"/>'s header through <see cref="SafeTensorsFile.Open"/> (length,
    /// JSON, fields, dtypes, byte sizes against shapes, bounds, overlaps) and adds the check Open
    /// leaves out: the data section must have no bytes outside every tensor (the format forbids holes).
    /// </summary>
    public static ShardCheck Read(string path)
    {
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Broken(path, 0, 0, $"{path}: cannot be read ({e.Message})");
        }

        try
        {
            using var file = SafeTensorsFile.Open(path);
            var entries = file.Entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
            return new ShardCheck(path, length, file.DataStart - 8, entries, file.Metadata, Holes(path, entries, length - file.DataStart).ToList());
        }
        catch (SafeTensorsException e)
        {
            return Broken(path, length, 0, e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Broken(path, length, 0, $"{path}: cannot be read ({e.Message})");
        }
    }

    public long Parameters => Entries.Sum(e => e.Shape.Aggregate(1L, (a, d) => a * d));

    public long TensorBytes => Entries.Sum(e => e.End - e.Begin);

    private static ShardCheck Broken(string path, long length, long header, string problem) =>
        new(path, length, header, Array.Empty<SafeTensorEntry>(), new Dictionary<string, string>(), new[] { problem });

    /// <summary>Ranges of the data section no tensor covers: a gap between tensors, before the first, or after the last.</summary>
    private static IEnumerable<string> Holes(string path, IReadOnlyList<SafeTensorEntry> entries, long dataLength)
    {
        long at = 0;
        foreach (var e in entries.Where(e => e.End > e.Begin))
        {
            if (e.Begin > at)
            {
                yield return $"{path}: data bytes {at}..{e.Begin} (before tensor '{e.Name}') belong to no tensor; the format forbids holes";
            }

            at = Math.Max(at, e.End);
        }

        if (at < dataLength)
        {
            yield return $"{path}: the last {dataLength - at} data bytes (from {at}) belong to no tensor; the format forbids holes";
        }
    }
}
