using System;
using System.Collections.Generic;
using System.Globalization;
using Wudao.Runtime.Tests;

namespace Wudao.GpuRunner;

/// <summary>The command line: a command, its folders, and the options that shape the run.</summary>
/// <param name="Command">test, bench, report or all.</param>
/// <param name="Folders">test, bench: the parts folder; report: the parts folder and the results folder; all: the results folder.</param>
/// <param name="Accelerator">cpu (ILGPU's CPU accelerator) or cuda.</param>
/// <param name="Quick">Small benchmark shapes: a smoke run that finishes on the CPU accelerator.</param>
/// <param name="Filter">test: run only tests whose name contains this.</param>
/// <param name="Only">bench: run only these benchmarks (copy, suite, attention, decode, mixtral); empty runs all.</param>
public sealed record RunnerOptions(
    string Command,
    IReadOnlyList<string> Folders,
    DeviceKind Accelerator,
    bool Quick,
    double PeakTflops,
    double HbmGbps,
    string PeakSource,
    string? Exchange,
    string? Filter,
    IReadOnlyList<string> Only)
{
    public const string Usage = """
        usage: wudao-gpu test   PARTS   [--accelerator cpu|cuda] [--filter TEXT]
               wudao-gpu bench  PARTS   [--accelerator cpu|cuda] [--quick] [--exchange DIR] [--only a,b]
                                        [--peak-fp32-tflops X] [--hbm-gbps Y] [--peak-source TEXT]
               wudao-gpu report PARTS RESULTS
               wudao-gpu all    RESULTS [the options of test and bench]
          test    runs the ILGPU-bound suites of Wudao.Runtime.Tests (trait accelerator=ilgpu) on the accelerator
          bench   copy, suite (d=512 E=16 k=2 h=2048), attention (8x4096x128), decode (TinyMoeLm), mixtral (d=4096 E=8 k=2 h=14336)
          report  merges PARTS/tests.json, bench.json, torch.json and device.txt into RESULTS/results.md and results.json
        peaks default to the NVIDIA H200 SXM datasheet: 67 TFLOP/s fp32, 4800 GB/s HBM3e.
        """;

    private const double H200Tflops = 67;
    private const double H200Gbps = 4800;

    public static RunnerOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count == 0 || args[0] is not ("test" or "bench" or "report" or "all"))
        {
            throw new ArgumentException(args.Count == 0 ? "no command given" : $"unknown command '{args[0]}'");
        }

        var folders = new List<string>();
        var o = new RunnerOptions(args[0], folders, DeviceKind.Cpu, false, H200Tflops, H200Gbps, "datasheet, NVIDIA H200 SXM", null, null, Array.Empty<string>());
        var peakGiven = false;
        for (var i = 1; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            double Positive()
            {
                var text = Value();
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{args[i - 1]} takes a positive number, not '{text}'");
            }

            switch (args[i])
            {
                case "--accelerator":
                    o = o with { Accelerator = TestAccelerator.Parse(Value()) };
                    break;
                case "--quick":
                    o = o with { Quick = true };
                    break;
                case "--peak-fp32-tflops":
                    o = o with { PeakTflops = Positive() };
                    peakGiven = true;
                    break;
                case "--hbm-gbps":
                    o = o with { HbmGbps = Positive() };
                    peakGiven = true;
                    break;
                case "--peak-source":
                    o = o with { PeakSource = Value() };
                    break;
                case "--exchange":
                    o = o with { Exchange = Value() };
                    break;
                case "--filter":
                    o = o with { Filter = Value() };
                    break;
                case "--only":
                    o = o with { Only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
                    break;
                case var flag when flag.StartsWith("--", StringComparison.Ordinal):
                    throw new ArgumentException($"unknown option '{flag}'");
                default:
                    folders.Add(args[i]);
                    break;
            }
        }

        var wanted = o.Command == "report" ? 2 : 1;
        if (folders.Count != wanted)
        {
            throw new ArgumentException($"{o.Command} takes {wanted} folder{(wanted == 1 ? "" : "s")}, got {folders.Count}");
        }

        return peakGiven && o.PeakSource.StartsWith("datasheet, NVIDIA H200", StringComparison.Ordinal) ? o with { PeakSource = "given" } : o;
    }
}
