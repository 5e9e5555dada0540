using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wudao.GpuRunner.Bench;

/// <summary>
/// What tests/gpu/torch_moe.py reads to run the PyTorch peer on Wudao's very weights and inputs:
/// one folder per benchmark under the exchange folder, with raw little-endian fp32 tensors
/// (numpy.fromfile reads them; no safetensors package is assumed on the GPU machine) and a
/// manifest.json naming them with their shapes, Wudao's outputs and Wudao's times.
/// </summary>
public sealed class PeerFiles
{
    // Span lengths are ints: a tensor of 3.8 GB goes out in slices.
    private const int Slice = 1 << 26;

    private readonly string _root;

    public PeerFiles(string root)
    {
        _root = root;
        Directory.CreateDirectory(root);
    }

    /// <summary>A fresh folder for one benchmark.</summary>
    public string Folder(string name)
    {
        var folder = Path.Combine(_root, name);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>Writes <paramref name="data"/> as <c>file</c> in <paramref name="folder"/>; returns its manifest entry.</summary>
    public static JsonObject Tensor(string folder, string file, ReadOnlySpan<float> data, params int[] shape)
    {
        using (var stream = File.Create(Path.Combine(folder, file)))
        {
            for (var at = 0; at < data.Length; at += Slice)
            {
                stream.Write(MemoryMarshal.AsBytes(data.Slice(at, Math.Min(Slice, data.Length - at))));
            }
        }

        return new JsonObject { ["file"] = file, ["shape"] = new JsonArray(Array.ConvertAll(shape, d => (JsonNode?)d)) };
    }

    public static void Manifest(string folder, JsonObject manifest) =>
        File.WriteAllText(Path.Combine(folder, "manifest.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
}
