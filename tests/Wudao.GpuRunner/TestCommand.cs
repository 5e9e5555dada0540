using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using Wudao.GpuRunner.Testing;
using Wudao.Runtime.Tests;

namespace Wudao.GpuRunner;

/// <summary>
/// Runs the suites of Wudao.Runtime.Tests that carry the accelerator trait on the accelerator
/// asked for (WUDAO_TEST_ACCELERATOR is set before any suite is touched), prints each result,
/// and closes with "N passed, N failed, N skipped". Exit code 1 on a failure or when nothing ran.
/// </summary>
public static class TestCommand
{
    public static int Run(RunnerOptions options, string parts)
    {
        ArgumentNullException.ThrowIfNull(options);
        Environment.SetEnvironmentVariable(TestAccelerator.Variable, options.Accelerator == DeviceKind.Cuda ? "cuda" : "cpu");
        var clock = Stopwatch.StartNew();
        string device;
        try
        {
            using var session = TestAccelerator.OpenSession(options.Accelerator);
            device = session.ToString();
        }
        catch (InvalidOperationException e)
        {
            device = "unavailable: " + e.Message;
        }

        var cases = TestDiscovery.Find(typeof(TestAccelerator).Assembly.GetExportedTypes(), TestAccelerator.Runs)
            .Where(c => options.Filter == null || c.Name.Contains(options.Filter, StringComparison.Ordinal))
            .ToList();
        var classes = cases.GroupBy(c => c.Class.Name).Select(g => $"{g.Key} ({g.Count()})").ToList();
        Console.WriteLine($"{device}");
        Console.WriteLine($"{cases.Count} tests of {classes.Count} classes carry [Trait(\"{TestAccelerator.Trait}\", \"{TestAccelerator.Ilgpu}\")]{(options.Filter == null ? "" : $" and contain '{options.Filter}'")}:");
        Console.WriteLine("  " + string.Join(", ", classes));
        var summary = new JsonObject
        {
            ["accelerator"] = options.Accelerator.ToString(),
            ["device"] = device,
            ["discovered"] = cases.Count,
            ["classes"] = new JsonArray(classes.Select(c => (JsonNode?)c).ToArray()),
            ["finished"] = false,
        };
        Parts.Write(parts, Parts.Tests, summary);

        using var lines = new StreamWriter(Path.Combine(parts, Parts.TestLines), append: false) { AutoFlush = true };
        var results = TestExecutor.Run(cases, r =>
        {
            var mark = r.Outcome switch { Outcome.Passed => "ok  ", Outcome.Failed => "FAIL", _ => "skip" };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {mark} {r.Seconds,7:0.000} s  {r.Name}"));
            if (r.Message != null)
            {
                Console.WriteLine("        " + r.Message.Replace("\n", "\n        ", StringComparison.Ordinal));
            }

            lines.WriteLine(new JsonObject { ["name"] = r.Name, ["outcome"] = r.Outcome.ToString(), ["seconds"] = r.Seconds, ["message"] = r.Message }.ToJsonString());
        });

        int passed = results.Count(r => r.Outcome == Outcome.Passed), failed = results.Count(r => r.Outcome == Outcome.Failed), skipped = results.Count(r => r.Outcome == Outcome.Skipped);
        summary["passed"] = passed;
        summary["failed"] = failed;
        summary["skipped"] = skipped;
        summary["seconds"] = clock.Elapsed.TotalSeconds;
        summary["finished"] = true;
        Parts.Write(parts, Parts.Tests, summary);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"tests on {options.Accelerator} took {clock.Elapsed.TotalSeconds:0.0} s"));
        Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
        return failed > 0 || passed == 0 ? 1 : 0;
    }
}
