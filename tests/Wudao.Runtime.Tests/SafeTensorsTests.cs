using System;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>safetensors: bit-exact round trips, BF16 widening, layer loading, and clear errors for malformed files.</summary>
public sealed class SafeTensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("wudao-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Weights_round_trip_bit_exactly()
    {
        var weights = MoeWeights.Random(TopK3SwiGlu.Info, 5);
        var path = Path.Combine(_dir, "w.safetensors");

        weights.Save(path);
        var loaded = MoeWeights.Load(path);

        Assert.Equal(weights.Names.OrderBy(n => n), loaded.Names.OrderBy(n => n));
        foreach (var name in weights.Names)
        {
            Assert.Equal(weights[name].Shape, loaded[name].Shape);
            Assert.Equal(weights[name].Data.Select(BitConverter.SingleToInt32Bits), loaded[name].Data.Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void A_layer_loaded_from_a_file_computes_what_the_saved_one_did()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var saved = TopK2Gelu.Create(session, 8);
        var path = Path.Combine(_dir, "layer.safetensors");
        saved.Weights.Save(path);
        using var loaded = TopK2Gelu.Load(session, path);
        using var x = session.Upload(Numerics.RandomInputs(9 * 8, 1), 9, 8);

        using var a = saved.Forward(x);
        using var b = loaded.Forward(x);

        Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
    }

    [Fact]
    public void Loading_reports_each_tensor_and_can_be_cancelled()
    {
        var weights = MoeWeights.Random(TopK3SwiGlu.Info, 5);
        var path = Path.Combine(_dir, "progress.safetensors");
        weights.Save(path);
        var seen = new System.Collections.Generic.List<WeightLoadProgress>();

        var loaded = MoeWeights.Load(path, new Collect(seen.Add));

        var names = weights.Names.Count;
        Assert.Equal(Enumerable.Range(1, names), seen.Select(p => p.TensorsRead));
        Assert.All(seen, p => Assert.Equal(names, p.Tensors));
        Assert.Equal(loaded.Names.OrderBy(n => n), seen.Select(p => p.Tensor).OrderBy(n => n));
        Assert.True(seen.Zip(seen.Skip(1)).All(pair => pair.First.BytesRead < pair.Second.BytesRead), "bytes read must grow with each tensor");
        Assert.Equal(weights.Names.Sum(n => 4L * weights[n].Data.Length), seen[^1].Bytes);
        Assert.Equal(1.0, seen[^1].Fraction);

        using var cancel = new System.Threading.CancellationTokenSource();
        var read = 0;
        Assert.Throws<OperationCanceledException>(() => MoeWeights.Load(path, new Collect(_ =>
        {
            if (++read == 2)
            {
                cancel.Cancel();
            }
        }), cancel.Token));
        Assert.Equal(2, read);
    }

    [Fact]
    public void Bf16_tensors_are_widened_on_load()
    {
        var values = new[] { 1.5f, -2.25f, 0f, 1024f }; // exactly representable in BF16
        var halves = values.Select(v => (ushort)(BitConverter.SingleToInt32Bits(v) >> 16)).ToArray();
        var data = halves.SelectMany(BitConverter.GetBytes).ToArray();
        var path = Write("{\"t\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", data);

        var t = Assert.Single(SafeTensors.Load(path));

        Assert.Equal(new[] { 2, 2 }, t.Shape);
        Assert.Equal(values, t.Data);
    }

    [Fact]
    public void Metadata_and_empty_tensors_are_read()
    {
        var path = Write("{\"__metadata__\":{\"format\":\"pt\"},\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}", Array.Empty<byte>());

        using var file = SafeTensorsFile.Open(path);

        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Empty(file.ReadF32("e"));
    }

    [Fact]
    public void An_empty_tensor_may_point_inside_another_tensor()
    {
        var path = Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]}}", new byte[4]);

        var tensors = SafeTensors.Load(path);

        Assert.Equal(new[] { 1, 0 }, tensors.Select(t => t.Data.Length).OrderByDescending(n => n));
    }

    [Fact]
    public void Wrong_shape_for_a_layer_names_the_tensor_and_both_shapes()
    {
        var weights = MoeWeights.Random(TopK2Gelu.Info, 1);
        var path = Path.Combine(_dir, "bad.safetensors");
        SafeTensors.Save(path, weights.Names.Select(n => n == "gate.weight" ? new HostTensor(n, new float[8 * 5], 8, 5) : weights[n]));
        using var session = Session.Create(DeviceKind.Native, threads: 1);

        var e = Assert.Throws<ArgumentException>(() => TopK2Gelu.Load(session, path));

        Assert.Contains("'gate.weight' must be [8, 4], got [8, 5]", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("short", "fewer than the 8-byte header length")]
    [InlineData("header-too-long", "the header claims 1000 bytes")]
    [InlineData("huge-header", "the header claims 18446744073709551615 bytes")]
    [InlineData("not-json", "the header is not valid JSON")]
    [InlineData("truncated", "ends at byte 16 but the data section has 8 bytes")]
    [InlineData("overlap", "overlap")]
    [InlineData("unknown-dtype", "unknown dtype 'Q4'")]
    [InlineData("size-mismatch", "needs 4×4 bytes but its offsets span 12")]
    [InlineData("negative-dim", "bad dimension")]
    [InlineData("missing-field", "needs dtype, shape and two data_offsets")]
    [InlineData("f64", "has dtype F64; Wudao reads F32 and BF16")]
    [InlineData("u8", "has dtype U8; Wudao reads F32 and BF16")]
    [InlineData("metadata-not-object", "__metadata__ is not an object")]
    [InlineData("shape-not-number", "has a bad dimension")]
    [InlineData("offset-not-number", "has a bad begin offset")]
    public void Malformed_files_give_clear_errors(string fault, string expected)
    {
        var path = fault switch
        {
            "short" => WriteRaw(new byte[5]),
            "header-too-long" => WriteRaw(BitConverter.GetBytes(1000UL).Concat(new byte[10]).ToArray()),
            "huge-header" => WriteRaw(BitConverter.GetBytes(ulong.MaxValue).Concat(new byte[10]).ToArray()),
            "not-json" => Write("{\"a\":", new byte[4]),
            "truncated" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new byte[8]),
            "overlap" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
            "unknown-dtype" => Write("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]),
            "size-mismatch" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", new byte[12]),
            "negative-dim" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]),
            "missing-field" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", new byte[8]),
            "u8" => Write("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", new byte[8]),
            "metadata-not-object" => Write("{\"__metadata__\":5}", Array.Empty<byte>()),
            "shape-not-number" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"x\"],\"data_offsets\":[0,4]}}", new byte[4]),
            "offset-not-number" => Write("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", new byte[4]),
            _ => Write("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]),
        };

        var e = Assert.Throws<SafeTensorsException>(() => SafeTensors.Load(path));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
    }

    private string Write(string header, byte[] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        return WriteRaw(BitConverter.GetBytes((ulong)json.Length).Concat(json).Concat(data).ToArray());
    }

    private string WriteRaw(byte[] bytes)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private sealed class Collect(Action<WeightLoadProgress> report) : IProgress<WeightLoadProgress>
    {
        public void Report(WeightLoadProgress value) => report(value);
    }
}
