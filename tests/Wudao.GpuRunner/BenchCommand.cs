using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text.Json.Nodes;
using Wudao.GpuRunner.Bench;
using Wudao.GpuRunner.Report;
using Wudao.Runtime.Tests;

namespace Wudao.GpuRunner;

/// <summary>
/// Runs the benchmarks on one session of the accelerator, smallest first so a run cut short by its
/// time limit still has them: the device copy, the CPU suite's layer, attention, TinyMoeLm decode,
/// and Mixtral's layer (5.6 GB of weights). A benchmark that throws is recorded and the rest run.
/// bench.json is rewritten after each one. Exit code 1 when any failed.
/// </summary>
public static class BenchCommand
{
    public static int Run(RunnerOptions options, string parts)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = new BenchSettings(options.Quick, options.PeakTflops, options.HbmGbps, options.PeakSource, options.Exchange);
        using var session = TestAccelerator.OpenSession(options.Accelerator);
        Console.WriteLine(session);
        var rows = new List<ResultRow>();
        var errors = new JsonArray();
        double? copy = null;
        var mixtral = options.Quick
            ? new MoeShape("Mixtral (quick stand-in)", QuickMixtralLayer.Info, (s, w) => QuickMixtralLayer.Create(s, w), new[] { 1, 64 })
            : new MoeShape("Mixtral", MixtralLayer.Info, (s, w) => MixtralLayer.Create(s, w), new[] { 1, 4096 });
        var suite = options.Quick
            ? new MoeShape("CPU-suite (quick stand-in)", QuickSuiteLayer.Info, (s, w) => QuickSuiteLayer.Create(s, w), new[] { 64 })
            : new MoeShape("CPU-suite", SuiteLayer.Info, (s, w) => SuiteLayer.Create(s, w), new[] { 4096 });
        var benchmarks = new (string Name, Func<IEnumerable<ResultRow>> Run)[]
        {
            ("copy", () =>
            {
                var (row, gbps) = CopyBench.Run(session, settings);
                copy = gbps;
                return new[] { row };
            }),
            ("suite", () => MoeBench.Run(session, suite, settings, copy)),
            ("attention", () => AttentionBench.Run(session, settings)),
            ("decode", () => DecodeBench.Run(session, settings)),
            ("mixtral", () => MoeBench.Run(session, mixtral, settings, copy)),
        };

        var unknown = options.Only.Except(benchmarks.Select(b => b.Name)).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"--only: no benchmark named {string.Join(", ", unknown)}");
        }

        foreach (var (name, run) in benchmarks.Where(b => options.Only.Count == 0 || options.Only.Contains(b.Name)))
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var got = run().ToList();
                rows.AddRange(got);
                foreach (var r in got)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.Benchmark} | {r.Implementation} | {r.Measure} | {r.MedianMs:0.####} ms | {ResultRow.Number(r.Rate)} {r.Unit}{(r.Fraction is { } f ? $" | {f:P1} of {r.Of}" : "")} | {r.Note}"));
                }
            }
            catch (Exception e)
            {
                errors.Add($"{name}: {e.GetType().Name}: {e.Message}");
                Console.WriteLine($"  {name} FAILED: {e}");
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {clock.Elapsed.TotalSeconds:0.0} s"));
            Parts.Write(parts, Parts.Bench, new JsonObject
            {
                ["accelerator"] = session.Kind.ToString(),
                ["device"] = session.ToString(),
                ["quick"] = options.Quick,
                ["peak_tflops"] = settings.PeakTflops,
                ["hbm_gbps"] = settings.HbmGbps,
                ["peak_source"] = settings.PeakSource,
                ["copy_gbps"] = copy,
                ["rows"] = new JsonArray(rows.Select(r => (JsonNode?)r.ToJson()).ToArray()),
                ["errors"] = errors.DeepClone(),
            });
        }

        return errors.Count > 0 ? 1 : 0;
    }
}
