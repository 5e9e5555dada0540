using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using QuickStart;
using Wudao;

// Usage: dotnet run -c Release --project examples/QuickStart [-- --tokens N] [--repeat N]
var tokens = 256;
var repeat = 5;
for (var i = 0; i < args.Length; i++)
{
    var known = args[i] is "--tokens" or "--repeat";
    if (!known || i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 0)
    {
        Console.Error.WriteLine(known ? $"{args[i]} expects a whole number >= 0" : $"unknown option '{args[i]}' (use --tokens N, --repeat N)");
        return 2;
    }

    if (args[i] == "--tokens")
    {
        tokens = value;
    }
    else
    {
        repeat = Math.Max(1, value);
    }

    i++;
}

Console.WriteLine(MyMoe.Info);
Console.WriteLine();
Console.WriteLine(MyMoe.Info.GraphText);
Console.WriteLine(MyMoe.Info.PlanText);

using var session = Session.Create();
Console.WriteLine($"device: {session.DeviceName}");
if (session.Kind == DeviceKind.Cpu)
{
    Console.WriteLine("note: ILGPU's CPU accelerator simulates GPU threads; it checks kernels, it is not fast.");
}

using var moe = MyMoe.Create(session, seed: 42);
var rng = new Random(7);
var host = new float[tokens * MyMoe.Info.Dim];
for (var i = 0; i < host.Length; i++)
{
    host[i] = (float)((rng.NextDouble() * 2) - 1);
}

using var x = session.Upload(host, tokens, MyMoe.Info.Dim);

Console.Write($"compiling kernels and running {tokens} tokens... ");
var watch = Stopwatch.StartNew();
using (var warm = moe.Forward(x))
{
}

Console.WriteLine($"first call (includes kernel compilation) {watch.Elapsed.TotalMilliseconds:F0} ms");
var best = double.MaxValue;
var overall = new MoeStatsAccumulator();
for (var r = 0; r < repeat; r++)
{
    watch.Restart();
    using var call = moe.Forward(x);
    best = Math.Min(best, watch.Elapsed.TotalMilliseconds);
    overall.Add(call.Stats);
}

using var result = moe.Forward(x);
var output = result.Output.ToArray();
var rows = result.Stats.TokensPerExpert.Sum();
var flops = 2.0 * rows * MyMoe.Info.Dim * MyMoe.Info.Hidden * 2;
Console.WriteLine($"best of {repeat} calls: {best:F1} ms ({flops / best / 1e6:F1} GFLOP/s in the expert FFN), device allocations so far {session.Pool.Allocations}");
Console.WriteLine();
Console.WriteLine("per-expert load, last call:");
Console.Write(result.Stats.ToTable());
Console.WriteLine($"over all {overall.Calls} timed calls (GShard's random second expert differs by call):");
Console.Write(overall.ToTable());
var norm = 0.0;
foreach (var v in output)
{
    norm += v * v;
}

Console.WriteLine($"output [{string.Join(", ", result.Output.Shape)}], L2 norm {Math.Sqrt(norm):F4}");
return 0;
