using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;

namespace Wudao.GpuRunner.Report;

/// <summary>
/// Merges the parts of a run (tests, benchmarks, the PyTorch peer, nvidia-smi) into results.md
/// and results.json. A missing or unfinished part is said so in the table, never left out quietly.
/// </summary>
public static class ResultsReport
{
    /// <summary>The measure of a row that times the whole call, as the peers' rows do.</summary>
    public const string Whole = "whole";

    /// <summary>Writes RESULTS/results.md and results.json; returns the markdown.</summary>
    public static string Write(string parts, string results)
    {
        var tests = Parts.Read(parts, Parts.Tests);
        var testLines = ReadLines(Path.Combine(parts, Parts.TestLines));
        var bench = Parts.Read(parts, Parts.Bench);
        var torch = Parts.Read(parts, Parts.Torch);
        var devicePath = Path.Combine(parts, Parts.Device);
        var device = File.Exists(devicePath) ? File.ReadAllText(devicePath) : null;
        var rows = Rows(bench).Concat(Rows(torch)).ToList();

        var md = new StringBuilder();
        md.AppendLine("# Wudao on the accelerator: results").AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC by tests/Wudao.GpuRunner (`report`)."));
        if (device != null)
        {
            md.AppendLine().AppendLine("GPU (nvidia-smi):").AppendLine().AppendLine("```").AppendLine(device.Trim()).AppendLine("```");
        }

        md.AppendLine().AppendLine("## Tests").AppendLine();
        md.Append(TestSection(tests, testLines));
        md.AppendLine().AppendLine("## Benchmarks").AppendLine();
        md.Append(BenchHeader(bench, torch));
        md.Append(Table(rows));
        md.AppendLine().AppendLine("## Wudao ÷ PyTorch").AppendLine();
        md.Append(Ratios(rows));
        var errors = Errors(bench).Select(e => "bench: " + e).Concat(Errors(torch).Select(e => "torch: " + e)).ToList();
        if (errors.Count > 0)
        {
            md.AppendLine().AppendLine("## Errors").AppendLine();
            foreach (var e in errors)
            {
                md.AppendLine($"- {e}");
            }
        }

        Directory.CreateDirectory(results);
        var text = md.ToString();
        File.WriteAllText(Path.Combine(results, "results.md"), text);
        Parts.Write(results, "results.json", new JsonObject
        {
            ["tests"] = tests?.DeepClone(),
            ["test_results"] = new JsonArray(testLines.Select(l => (JsonNode?)l.DeepClone()).ToArray()),
            ["bench"] = bench?.DeepClone(),
            ["torch"] = torch?.DeepClone(),
            ["device"] = device,
        });
        return text;
    }

    private static string TestSection(JsonNode? tests, IReadOnlyList<JsonNode> lines)
    {
        var s = new StringBuilder();
        if (tests == null)
        {
            return s.AppendLine("The test phase left no summary: it did not start.").ToString();
        }

        var failed = lines.Where(l => (string?)l["outcome"] == "Failed").ToList();
        int passed = lines.Count(l => (string?)l["outcome"] == "Passed"), skipped = lines.Count(l => (string?)l["outcome"] == "Skipped");
        s.AppendLine($"The ILGPU-bound suites of Wudao.Runtime.Tests on **{tests["accelerator"]}** ({tests["device"]}).").AppendLine();
        s.AppendLine(string.Create(CultureInfo.InvariantCulture, $"**{passed} passed, {failed.Count} failed, {skipped} skipped** of {tests["discovered"]} discovered{((bool?)tests["finished"] == true ? $", in {(double?)tests["seconds"]:0.0} s" : "")}."));
        if ((bool?)tests["finished"] != true)
        {
            s.AppendLine().AppendLine($"**The test phase did not finish** (its time limit?): the last test recorded is {(lines.Count > 0 ? (string?)lines[^1]["name"] : "none")}.");
        }

        if (failed.Count > 0)
        {
            s.AppendLine().AppendLine("Failures:").AppendLine();
            foreach (var f in failed)
            {
                s.AppendLine($"- `{f["name"]}`: {Cell(((string?)f["message"] ?? "").Split('\n')[0])}");
            }
        }

        s.AppendLine().AppendLine("Classes: " + string.Join(", ", (tests["classes"] as JsonArray ?? new JsonArray()).Select(c => (string?)c)));
        return s.ToString();
    }

    private static string BenchHeader(JsonNode? bench, JsonNode? torch)
    {
        var s = new StringBuilder();
        if (bench == null)
        {
            s.AppendLine("The benchmark phase left no results: it did not start or failed at once.").AppendLine();
        }
        else
        {
            s.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{bench["device"]}{((bool?)bench["quick"] == true ? "; **--quick** shapes (a smoke run, not a measurement)" : "")}."));
            s.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Ceilings: fp32 {(double?)bench["peak_tflops"]:0.#} TFLOP/s and memory {(double?)bench["hbm_gbps"]:0} GB/s ({bench["peak_source"]}); device copy measured in this run: {ResultRow.Number((double?)bench["copy_gbps"])} GB/s.")).AppendLine();
        }

        s.AppendLine(torch == null ? "The PyTorch peer left no results." : $"PyTorch peer: {torch["torch"]} on {torch["device"]}; fp32 matmuls without TF32, as Wudao computes.").AppendLine();
        s.AppendLine("Median of the timed runs after warm-up, each ended by the device's synchronisation. FLOP/s count useful FLOPs only; gate + dispatch + combine count the bytes they must move at the least.").AppendLine();
        return s.ToString();
    }

    private static string Table(IReadOnlyList<ResultRow> rows)
    {
        var s = new StringBuilder();
        s.AppendLine("| Benchmark | Implementation | Measure | Median ms | Min ms | Rate | Fraction | of | max abs diff vs Wudao | Note |");
        s.AppendLine("|---|---|---|---:|---:|---:|---:|---|---:|---|");
        foreach (var r in rows)
        {
            var fraction = r.Fraction is { } f ? f.ToString("P1", CultureInfo.InvariantCulture) : "";
            s.AppendLine($"| {Cell(r.Benchmark)} | {Cell(r.Implementation)} | {Cell(r.Measure)} | {ResultRow.Number(r.MedianMs)} | {ResultRow.Number(r.MinMs)} | {ResultRow.Number(r.Rate)} {r.Unit} | {fraction} | {Cell(r.Of ?? "")} | {ResultRow.Number(r.MaxAbsDiff)} | {Cell(r.Note ?? "")} |");
        }

        return s.ToString();
    }

    /// <summary>Wudao's whole-layer and attention times over PyTorch's on the same benchmark: below 1, Wudao is faster.</summary>
    private static string Ratios(IReadOnlyList<ResultRow> rows)
    {
        var s = new StringBuilder();
        var wudao = rows.Where(r => r.Group is "moe" or "attention" && r.Measure == Whole && r.Implementation.StartsWith("Wudao", StringComparison.Ordinal)).ToList();
        if (wudao.Count == 0)
        {
            return s.AppendLine("No Wudao MoE or attention rows to compare.").ToString();
        }

        s.AppendLine("Median time ratio on the same weights and inputs; below 1, Wudao is faster.").AppendLine();
        s.AppendLine("| Benchmark | Wudao ms | PyTorch eager ms | Wudao ÷ eager | PyTorch compile ms | Wudao ÷ compile |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var w in wudao)
        {
            ResultRow? Peer(string kind) => rows.FirstOrDefault(r => r.Benchmark == w.Benchmark && r.Group == w.Group && r.Measure == Whole && r.Implementation.Contains(kind, StringComparison.Ordinal));
            string Pair(ResultRow? p) => p == null || double.IsNaN(p.MedianMs) ? "not run | " : $"{ResultRow.Number(p.MedianMs)} | {ResultRow.Number(w.MedianMs / p.MedianMs)}";
            s.AppendLine($"| {Cell(w.Benchmark)} | {ResultRow.Number(w.MedianMs)} | {Pair(Peer("eager"))} | {Pair(Peer("compile"))} |");
        }

        return s.ToString();
    }

    private static IEnumerable<ResultRow> Rows(JsonNode? part) =>
        (part?["rows"] as JsonArray ?? new JsonArray()).Where(n => n != null).Select(n => ResultRow.FromJson(n!));

    private static IEnumerable<string> Errors(JsonNode? part) =>
        (part?["errors"] as JsonArray ?? new JsonArray()).Select(n => (string?)n ?? "");

    private static List<JsonNode> ReadLines(string path) => !File.Exists(path) ? new List<JsonNode>()
        : File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)).OfType<JsonNode>().ToList();

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
