using System;
using System.IO;
using Wudao.GpuRunner;
using Wudao.GpuRunner.Report;

// One self-contained program for the GPU machine (no .NET SDK there): tests/gpu/run calls its
// commands one by one, each under its own time limit, then merges their parts with `report`.
RunnerOptions options;
try
{
    options = RunnerOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(RunnerOptions.Usage);
    return 2;
}

switch (options.Command)
{
    case "test":
        return TestCommand.Run(options, options.Folders[0]);
    case "bench":
        return BenchCommand.Run(options, options.Folders[0]);
    case "report":
        Console.Write(ResultsReport.Write(options.Folders[0], options.Folders[1]));
        return 0;
    default:
        // all: every phase in this process, the parts beside the results (for a local run).
        var parts = Path.Combine(options.Folders[0], "parts");
        var tests = TestCommand.Run(options, parts);
        var bench = BenchCommand.Run(options with { Exchange = options.Exchange ?? Path.Combine(parts, "exchange") }, parts);
        ResultsReport.Write(parts, options.Folders[0]);
        Console.WriteLine($"results: {Path.Combine(options.Folders[0], "results.md")}");
        return tests != 0 ? tests : bench;
}
