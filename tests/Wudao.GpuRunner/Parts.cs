using System.IO;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Wudao.GpuRunner;

/// <summary>
/// The files each phase leaves in the parts folder, merged by <c>report</c>: tests.json (summary)
/// and tests.jsonl (a line a test, flushed as it ends, so a phase cut short by its time limit
/// still says how far it got), bench.json (rewritten after each benchmark), torch.json
/// (torch_moe.py), device.txt (nvidia-smi).
/// </summary>
public static class Parts
{
    public const string Tests = "tests.json";
    public const string TestLines = "tests.jsonl";
    public const string Bench = "bench.json";
    public const string Torch = "torch.json";
    public const string Device = "device.txt";

    public static void Write(string folder, string name, JsonNode node)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        File.WriteAllText(path + ".part", node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".part", path, overwrite: true);
    }

    public static JsonNode? Read(string folder, string name)
    {
        var path = Path.Combine(folder, name);
        return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) : null;
    }
}
