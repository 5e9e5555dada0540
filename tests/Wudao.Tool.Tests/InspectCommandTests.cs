using System;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;

namespace Wudao.Tool.Tests;

/// <summary><c>wudao inspect</c> on good files and folders, and on each way a file or index can be broken.</summary>
public class InspectCommandTests
{
    [Fact]
    public void A_good_file_lists_tensors_totals_and_metadata()
    {
        using var temp = new TempFolder();
        var file = temp.Path("moe.safetensors");
        SafeTensors.Save(file, new[]
        {
            new HostTensor("gate.weight", new float[8 * 4], 8, 4),
            new HostTensor("experts.b1", new float[4 * 300], 4, 300),
        }, new System.Collections.Generic.Dictionary<string, string> { ["format"] = "pt" });

        var run = ToolRun.Of("inspect", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Error);
        Assert.Matches(@"gate\.weight +F32 +\[8, 4\] +32 +128\n", run.Out);
        Assert.Matches(@"experts\.b1 +F32 +\[4, 300\] +1,200 +4,800 \(4\.7 KiB\)\n", run.Out);
        Assert.Matches(@"2 tensors +F32 ×2 +1,232 +4,928 \(4\.8 KiB\)\n", run.Out);
        Assert.Contains("metadata: format = pt", run.Out, StringComparison.Ordinal);
        Assert.EndsWith("checks: ok\n", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_with_an_index_checks_every_tensor_is_in_its_shard()
    {
        using var temp = new TempFolder();
        Shards(temp);
        Index(temp, ("a", "model-00001-of-00002.safetensors"), ("b", "model-00001-of-00002.safetensors"), ("c", "model-00002-of-00002.safetensors"));

        var run = ToolRun.Of("inspect", temp.FullName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(": 2 shards, 3 tensors (F32 ×3), 10 parameters, 40 bytes", run.Out, StringComparison.Ordinal);
        Assert.Contains("index: model.safetensors.index.json maps 3 tensors, total_size 40 bytes as the shards hold", run.Out, StringComparison.Ordinal);
        Assert.EndsWith("checks: ok\n", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void An_index_that_names_the_wrong_shard_or_misses_a_tensor_is_reported()
    {
        using var temp = new TempFolder();
        Shards(temp);
        Index(temp, ("a", "model-00002-of-00002.safetensors"), ("b", "model-00001-of-00002.safetensors"), ("gone", "model-00003-of-00003.safetensors"));

        var run = ToolRun.Of("inspect", temp.FullName);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tensor 'a' is indexed in model-00002-of-00002.safetensors but lies in model-00001-of-00002.safetensors", run.Error, StringComparison.Ordinal);
        Assert.Contains("names shard 'model-00003-of-00003.safetensors', which is not in the folder", run.Error, StringComparison.Ordinal);
        Assert.Contains("tensor 'c' in model-00002-of-00002.safetensors is not in the index", run.Error, StringComparison.Ordinal);
        Assert.Contains("checks: 3 problems (listed on standard error)", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_total_size_that_disagrees_with_the_shards_is_noted_not_failed()
    {
        using var temp = new TempFolder();
        Shards(temp);
        File.WriteAllText(temp.Path("model.safetensors.index.json"),
            "{\"metadata\": {\"total_size\": 44}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\", \"c\": \"model-00002-of-00002.safetensors\"}}");

        var run = ToolRun.Of("inspect", temp.FullName);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("maps 3 tensors, total_size 44 bytes but the shards hold 40 (a note", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_an_index_a_tensor_in_two_shards_is_reported()
    {
        using var temp = new TempFolder();
        SafeTensors.Save(temp.Path("one.safetensors"), new[] { new HostTensor("w", new float[2], 2) });
        SafeTensors.Save(temp.Path("two.safetensors"), new[] { new HostTensor("w", new float[2], 2) });

        var run = ToolRun.Of("inspect", temp.FullName);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tensor 'w' is in 2 shards (one.safetensors, two.safetensors)", run.Error, StringComparison.Ordinal);
        Assert.Contains("index: none", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_file_is_reported()
    {
        using var temp = new TempFolder();
        var file = temp.Path("cut.safetensors");
        SafeTensors.Save(file, new[] { new HostTensor("w", new float[16], 4, 4) });
        using (var stream = new FileStream(file, FileMode.Open))
        {
            stream.SetLength(stream.Length - 10);
        }

        var run = ToolRun.Of("inspect", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("tensor 'w' ends at byte 64 but the data section has 54 bytes (truncated file?)", run.Error, StringComparison.Ordinal);
        Assert.Contains("unreadable", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_safetensors_dtype_is_listed_with_its_size()
    {
        using var temp = new TempFolder();
        var file = temp.Path("dtypes.safetensors");
        var header = "{\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]},\"f8b\":{\"dtype\":\"F8_E5M2\",\"shape\":[2],\"data_offsets\":[4,6]},"
            + "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[6,8]},\"u32\":{\"dtype\":\"U32\",\"shape\":[2],\"data_offsets\":[8,16]},\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[16,24]}}";
        WriteRaw(file, (ulong)Encoding.UTF8.GetByteCount(header), header, 24);

        var run = ToolRun.Of("inspect", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Error);
        foreach (var dtype in new[] { "F8_E4M3", "F8_E5M2", "U16", "U32", "U64" })
        {
            Assert.Contains(dtype, run.Out, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensors 'a' and 'b' overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "tensor 'a' of shape [3] F32 needs 3×4 bytes but its offsets span 8")]
    [InlineData("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1, "tensor 'a' has unknown dtype 'Q4'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 8, "the header is not valid JSON")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, "tensor 'a' needs dtype, shape and two data_offsets")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16, "data bytes 8..12 (before tensor 'b') belong to no tensor")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 11, "the last 3 data bytes (from 8) belong to no tensor")]
    public void A_malformed_header_is_reported_clearly(string header, int dataBytes, string message)
    {
        using var temp = new TempFolder();
        var file = temp.Path("bad.safetensors");
        WriteRaw(file, (ulong)Encoding.UTF8.GetByteCount(header), header, dataBytes);

        var run = ToolRun.Of("inspect", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(message, run.Error, StringComparison.Ordinal);
        Assert.StartsWith("error: " + file + ": ", run.Error, StringComparison.Ordinal);
        Assert.Contains("checks: 1 problem (listed on standard error)", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_length_past_the_end_of_the_file_is_reported()
    {
        using var temp = new TempFolder();
        var file = temp.Path("long.safetensors");
        WriteRaw(file, 1_000_000, "{}", 0);

        var run = ToolRun.Of("inspect", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("the header claims 1000000 bytes but the file has 2 after the length field", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_path_or_a_folder_without_shards_exits_2()
    {
        var missing = ToolRun.Of("inspect", "no/such.safetensors");
        Assert.Equal(2, missing.ExitCode);
        Assert.Equal("wudao: no such file or folder: no/such.safetensors\n", missing.Error);

        using var temp = new TempFolder();
        var empty = ToolRun.Of("inspect", temp.FullName);
        Assert.Equal(2, empty.ExitCode);
        Assert.Contains("no .safetensors files", empty.Error, StringComparison.Ordinal);
    }

    /// <summary>Two shards: a [2] and b [3] in the first, c [5] in the second.</summary>
    private static void Shards(TempFolder temp)
    {
        SafeTensors.Save(temp.Path("model-00001-of-00002.safetensors"), new[] { new HostTensor("a", new float[2], 2), new HostTensor("b", new float[3], 3) });
        SafeTensors.Save(temp.Path("model-00002-of-00002.safetensors"), new[] { new HostTensor("c", new float[5], 5) });
    }

    private static void Index(TempFolder temp, params (string Tensor, string Shard)[] map) =>
        File.WriteAllText(temp.Path("model.safetensors.index.json"),
            "{\"metadata\": {\"total_size\": 40}, \"weight_map\": {" + string.Join(", ", map.Select(m => $"\"{m.Tensor}\": \"{m.Shard}\"")) + "}}");

    /// <summary>A length field claiming <paramref name="claimed"/> header bytes, the header text, then zeroed data.</summary>
    private static void WriteRaw(string path, ulong claimed, string header, int dataBytes)
    {
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes(claimed));
        stream.Write(Encoding.UTF8.GetBytes(header));
        stream.Write(new byte[dataBytes]);
    }
}
