using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;

namespace Wudao;

/// <summary>Writes safetensors files (F32), the format Hugging Face models ship in.</summary>
public static class SafeTensors
{
    /// <summary>Writes tensors in the order given, 8-byte aligned header, so loading them back is bit-exact.</summary>
    public static void Save(string path, IEnumerable<HostTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata != null && metadata.Count > 0)
        {
            header["__metadata__"] = metadata;
        }

        long offset = 0;
        foreach (var t in list)
        {
            var bytes = (long)t.Data.Length * 4;
            header[t.Name] = new Dictionary<string, object>
            {
                ["dtype"] = "F32",
                ["shape"] = t.Shape,
                ["data_offsets"] = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        var padded = (json.Length + 7) / 8 * 8;
        var tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(json);
            for (var i = json.Length; i < padded; i++)
            {
                stream.WriteByte((byte)' ');
            }

            foreach (var t in list)
            {
                stream.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
            }
        }

        // Replace atomically: a crash mid-write never leaves a half-written weight file behind.
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Reads every tensor of a file as F32 (BF16 widened), in file order. <paramref name="progress"/>
    /// hears after each tensor; <paramref name="cancellationToken"/> is checked before each one.
    /// </summary>
    public static IReadOnlyList<HostTensor> Load(string path, IProgress<WeightLoadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        using var file = SafeTensorsFile.Open(path);
        var entries = file.Entries.Values.OrderBy(e => e.Begin).ToList();
        var total = entries.Sum(e => e.End - e.Begin);
        var tensors = new List<HostTensor>(entries.Count);
        long done = 0;
        foreach (var e in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            tensors.Add(new HostTensor(e.Name, file.ReadF32(e.Name), e.Shape.Select(d => checked((int)d)).ToArray()));
            done += e.End - e.Begin;
            progress?.Report(new WeightLoadProgress(e.Name, tensors.Count, entries.Count, done, total));
        }

        return tensors;
    }
}
