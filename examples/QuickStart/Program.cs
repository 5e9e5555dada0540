using System;
using System.Diagnostics;
using System.Globalization;
using QuickStart;
using Wudao;

// Usage: dotnet run -c Release --project examples/QuickStart [-- --tokens N]
var tokens = 64;
for (var i = 0; i < args.Length - 1; i++)
{
    if (args[i] == "--tokens" && !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out tokens))
    {
        Console.Error.WriteLine($"--tokens expects a whole number, got '{args[i + 1]}'");
        return 2;
    }
}

if (tokens < 0)
{
    Console.Error.WriteLine("--tokens cannot be negative");
    return 2;
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
watch.Restart();
using var result = moe.Forward(x);
var elapsed = watch.Elapsed;
var output = result.Output.ToArray();
Console.WriteLine($"second call {elapsed.TotalMilliseconds:F1} ms, device allocations so far {session.Pool.Allocations}");
Console.WriteLine();
Console.WriteLine("per-expert load:");
Console.Write(result.Stats.ToTable());
var norm = 0.0;
foreach (var v in output)
{
    norm += v * v;
}

Console.WriteLine($"output [{string.Join(", ", result.Output.Shape)}], L2 norm {Math.Sqrt(norm):F4}");
return 0;
