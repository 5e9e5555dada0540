using System;
using System.Collections.Generic;
using System.IO;
using System.IO.MemoryMappedFiles;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Wudao;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">Its element type as written (F32, BF16, …).</param>
/// <param name="Shape">Its shape.</param>
/// <param name="Begin">First byte, relative to the data section.</param>
/// <param name="End">One past the last byte.</param>
public sealed record SafeTensorEntry(string Name, string DType, IReadOnlyList<long> Shape, long Begin, long End);

/// <summary>
/// A safetensors file opened for reading and memory-mapped: an 8-byte little-endian header
/// length, a JSON header naming each tensor's dtype, shape and byte range, then the raw data.
/// Everything the header claims is checked against the file before any tensor is read, so a
/// malformed file gives a clear error, never a crash or an allocation the file cannot back.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are refused before being read (the format's own limit is 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private static readonly Dictionary<string, int> ElementSizes = new()
    {
        // Every dtype of the safetensors format: a file holding any of them opens (and inspects); Wudao computes with F32 and BF16.
        ["F64"] = 8, ["F32"] = 4, ["BF16"] = 2, ["F16"] = 2, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
        ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1, ["BOOL"] = 1,
    };

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, long dataStart, Dictionary<string, SafeTensorEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>The file's path, as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>Every tensor in the header, by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorEntry> Entries { get; }

    /// <summary>The header's <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Where the tensor data starts: after the 8-byte length field and the JSON header.</summary>
    public long DataStart => _dataStart;

    /// <summary>Opens and maps <paramref name="path"/> read-only after checking its header; throws <see cref="SafeTensorsException"/> when the file is malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        var length = new FileInfo(path).Length;
        if (length < 8)
        {
            throw Bad(path, $"the file has {length} bytes, fewer than the 8-byte header length");
        }

        using (var stream = File.OpenRead(path))
        {
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            var headerLength = BitConverter.ToUInt64(prefix);
            if (headerLength > MaxHeaderBytes || (long)headerLength > length - 8)
            {
                throw Bad(path, $"the header claims {headerLength} bytes but the file has {length - 8} after the length field");
            }

            var header = new byte[headerLength];
            stream.ReadExactly(header);
            var dataStart = 8 + (long)headerLength;
            var (entries, metadata) = ParseHeader(path, header, length - dataStart);
            if (length == dataStart)
            {
                return new SafeTensorsFile(path, null, null, dataStart, entries, metadata);
            }

            var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, map, map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read), dataStart, entries, metadata);
        }
    }

    /// <summary>Reads a tensor as floats; BF16 is widened exactly (its bits are the high half of an F32).</summary>
    public float[] ReadF32(string name)
    {
        if (!Entries.TryGetValue(name, out var e))
        {
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}' (have: {string.Join(", ", Entries.Keys)})");
        }

        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; this machine is not");
        }

        if (e.DType is not ("F32" or "BF16"))
        {
            throw Bad(Path, $"tensor '{name}' has dtype {e.DType}; Wudao reads F32 and BF16");
        }

        var elements = e.Shape.Aggregate(1L, (a, d) => a * d);
        if (elements > Array.MaxLength)
        {
            throw Bad(Path, $"tensor '{name}' has {elements} elements, more than one .NET array holds");
        }

        var result = new float[elements];
        if (e.DType == "F32")
        {
            CopyOut(e, result);
        }
        else
        {
            var halves = new ushort[elements];
            CopyOut(e, halves);
            for (var i = 0; i < halves.Length; i++)
            {
                result[i] = BitConverter.Int32BitsToSingle(halves[i] << 16);
            }
        }

        return result;
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }

    /// <summary>Copies a tensor's bytes out of the mapping, in chunks, so tensors past 2 GiB work.</summary>
    private unsafe void CopyOut<T>(SafeTensorEntry e, T[] target)
        where T : unmanaged
    {
        if (target.Length == 0)
        {
            return;
        }

        byte* start = null;
        _view!.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        try
        {
            var source = start + _view.PointerOffset + _dataStart + e.Begin;
            const int Chunk = 1 << 26;
            for (var done = 0; done < target.Length; done += Chunk)
            {
                var count = Math.Min(Chunk, target.Length - done);
                new ReadOnlySpan<T>(source + ((long)done * sizeof(T)), count).CopyTo(target.AsSpan(done, count));
            }
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    private static (Dictionary<string, SafeTensorEntry>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw Bad(path, $"the header is not valid JSON ({e.Message})");
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Bad(path, "the header is not a JSON object");
            }

            var entries = new Dictionary<string, SafeTensorEntry>();
            var metadata = new Dictionary<string, string>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw Bad(path, "__metadata__ is not an object");
                    }

                    foreach (var m in p.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : throw Bad(path, $"metadata '{m.Name}' is not a string");
                    }

                    continue;
                }

                var entry = ParseEntry(path, p);
                if (!entries.TryAdd(entry.Name, entry))
                {
                    throw Bad(path, $"tensor '{entry.Name}' appears twice");
                }
            }

            CheckRanges(path, entries.Values, dataLength);
            return (entries, metadata);
        }
    }

    private static SafeTensorEntry ParseEntry(string path, JsonProperty p)
    {
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object
            || !v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String
            || !v.TryGetProperty("shape", out var shape) || shape.ValueKind != JsonValueKind.Array
            || !v.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
        {
            throw Bad(path, $"tensor '{p.Name}' needs dtype, shape and two data_offsets");
        }

        var type = dtype.GetString()!;
        if (!ElementSizes.TryGetValue(type, out var size))
        {
            throw Bad(path, $"tensor '{p.Name}' has unknown dtype '{type}'");
        }

        // TryGetInt64 throws on a non-number: check the kind first, so every fault is ours to name.
        static bool Whole(JsonElement v, out long x)
        {
            x = 0;
            return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out x);
        }

        var dims = shape.EnumerateArray().Select(d => Whole(d, out var x) && x >= 0 ? x : throw Bad(path, $"tensor '{p.Name}' has a bad dimension {d}")).ToArray();
        var begin = Whole(offsets[0], out var b) && b >= 0 ? b : throw Bad(path, $"tensor '{p.Name}' has a bad begin offset");
        var end = Whole(offsets[1], out var e) && e >= b ? e : throw Bad(path, $"tensor '{p.Name}' has a bad end offset");
        long elements = 1;
        foreach (var d in dims)
        {
            elements = d == 0 ? 0 : elements > long.MaxValue / d ? throw Bad(path, $"tensor '{p.Name}' is too large") : elements * d;
        }

        if (elements > long.MaxValue / size || elements * size != end - begin)
        {
            throw Bad(path, $"tensor '{p.Name}' of shape [{string.Join(", ", dims)}] {type} needs {elements}×{size} bytes but its offsets span {end - begin}");
        }

        return new SafeTensorEntry(p.Name, type, dims, begin, end);
    }

    private static void CheckRanges(string path, IEnumerable<SafeTensorEntry> entries, long dataLength)
    {
        SafeTensorEntry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > dataLength)
            {
                throw Bad(path, $"tensor '{e.Name}' ends at byte {e.End} but the data section has {dataLength} bytes (truncated file?)");
            }

            if (e.End == e.Begin)
            {
                // An empty tensor occupies no bytes, wherever its offset points.
                continue;
            }

            if (previous != null && e.Begin < previous.End)
            {
                throw Bad(path, $"tensors '{previous.Name}' and '{e.Name}' overlap");
            }

            previous = e;
        }
    }

    private static SafeTensorsException Bad(string path, string what) => new($"{path}: not a valid safetensors file: {what}");
}
