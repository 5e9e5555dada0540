using System;
using System.IO;
using System.Text.Json.Nodes;
using Wudao.GpuRunner.Report;
using Xunit;

namespace Wudao.GpuRunner.Tests;

/// <summary>results.md from a run's parts: the PyTorch peer beside Wudao, and what did not finish said so.</summary>
public sealed class ReportTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "wudao-report-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void The_peer_rows_give_the_ratio_and_an_unfinished_test_phase_is_said_so()
    {
        var parts = Path.Combine(_root, "parts");
        const string layer = "Mixtral MoE layer (d=4096, E=8, k=2, h=14336, SwiGlu), T=4096";
        Parts.Write(parts, Parts.Tests, new JsonObject { ["accelerator"] = "Cuda", ["device"] = "Session: Cuda: H", ["discovered"] = 3, ["finished"] = false, ["classes"] = new JsonArray("KernelStageTests (3)") });
        File.WriteAllLines(Path.Combine(parts, Parts.TestLines), new[]
        {
            """{"name":"KernelStageTests.Gate(1)","outcome":"Passed","seconds":0.1}""",
            """{"name":"KernelStageTests.Route(1)","outcome":"Failed","seconds":0.1,"message":"Xunit.Sdk.EqualException: off by one\nat somewhere"}""",
        });
        Parts.Write(parts, Parts.Bench, Part(
            new ResultRow("moe", layer, "Wudao (Cuda)", ResultsReport.Whole, 30, 29, 10),
            new ResultRow("moe-stage", layer, "Wudao (Cuda)", "expert FFN", 20, 19, 10, 40, "TFLOP/s", 0.6, "fp32 peak 67 TFLOP/s (datasheet)")));
        Parts.Write(parts, Parts.Torch, Part(
            new ResultRow("moe", layer, "PyTorch eager (cuda)", ResultsReport.Whole, 60, 59, 10, MaxAbsDiff: 2e-6),
            new ResultRow("moe", layer, "PyTorch compile (cuda)", ResultsReport.Whole, 40, 39, 10)));

        var md = ResultsReport.Write(parts, _root);

        Assert.Equal(md, File.ReadAllText(Path.Combine(_root, "results.md")));
        Assert.True(File.Exists(Path.Combine(_root, "results.json")));
        Assert.Contains("**1 passed, 1 failed, 0 skipped** of 3 discovered.", md, StringComparison.Ordinal);
        Assert.Contains("**The test phase did not finish** (its time limit?): the last test recorded is KernelStageTests.Route(1).", md, StringComparison.Ordinal);
        Assert.Contains("- `KernelStageTests.Route(1)`: Xunit.Sdk.EqualException: off by one", md, StringComparison.Ordinal);
        Assert.Contains($"| {layer} | 30.0 | 60.0 | 0.50 | 40.0 | 0.75 |", md, StringComparison.Ordinal);
        Assert.Contains("| PyTorch eager (cuda) | whole | 60.0 | 59.0 |", md, StringComparison.Ordinal);
        Assert.Contains("| 2.00e-6 |", md, StringComparison.Ordinal);
        Assert.DoesNotContain("| expert FFN | 20.0 | 19.0 | 40.0 TFLOP/s | 60.0 % |", md.Split("## Wudao ÷ PyTorch")[1], StringComparison.Ordinal);
        Assert.Contains("| expert FFN | 20.0 | 19.0 | 40.0 TFLOP/s | 60.0 % |", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_parts_are_named_not_left_out()
    {
        var md = ResultsReport.Write(Path.Combine(_root, "none"), _root);

        Assert.Contains("The test phase left no summary: it did not start.", md, StringComparison.Ordinal);
        Assert.Contains("The benchmark phase left no results", md, StringComparison.Ordinal);
        Assert.Contains("The PyTorch peer left no results.", md, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static JsonObject Part(params ResultRow[] rows) => new()
    {
        ["device"] = "test device",
        ["torch"] = "2.11.0",
        ["rows"] = new JsonArray(Array.ConvertAll(rows, r => (JsonNode?)r.ToJson())),
        ["errors"] = new JsonArray(),
    };
}
