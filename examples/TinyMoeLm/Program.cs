using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using TinyMoeLmExample;
using Wudao;
using Wudao.Models;

// Usage: dotnet run -c Release --project examples/TinyMoeLm [-- --tokens N] [--weights file.safetensors]
//        [--save file.safetensors] [--temperature T] [--top-p P] [--top-k K] [--seed S] [--plan]
//        [--load-chart file.svg]
var options = Options.Parse(args);
if (options == null)
{
    return 2;
}

Console.WriteLine(TinyMoeLm.Info);
if (options.Plan)
{
    Console.WriteLine();
    Console.WriteLine(TinyMoeLm.Info.PlanText);
}

using var session = Session.Create(DeviceKind.Native);
Console.WriteLine($"device: {session.DeviceName}");
var load = Stopwatch.StartNew();
using var lm = options.Weights != null ? ProgressBars.LoadWeights(options.Weights, p => TinyMoeLm.Load(session, options.Weights, progress: p)) : TinyMoeLm.Create(session, seed: 1);
Console.WriteLine(options.Weights != null ? $"loaded {options.Weights} in {load.Elapsed.TotalMilliseconds:F0} ms" : "created random weights (seed 1): the tokens are noise, the speed is real");
if (options.Save != null)
{
    lm.Weights.Save(options.Save);
    Console.WriteLine($"saved the weights to {options.Save} ({new FileInfo(options.Save).Length / 1e6:F1} MB)");
}

// A prompt of token ids (a tokenizer is outside this example).
var prompt = Enumerable.Range(0, 16).Select(i => (i * 97 + 13) % TinyMoeLm.Info.Vocab).ToArray();
var sampling = new Sampling(options.Temperature, options.TopK, options.TopP, options.Seed);
Console.WriteLine($"prompt: {prompt.Length} tokens; generating {options.Tokens} with {sampling}");

var prefill = Stopwatch.StartNew();
lm.Step(prompt);
var prefillMs = prefill.Elapsed.TotalMilliseconds;

// Expert load per generated token (the first step is the prompt's prefill), for --load-chart.
var history = new ExpertLoadHistory(TinyMoeLm.Info.MoePrefixes.Select(p => p.TrimEnd('.')));
history.StartFrom(lm.ExpertLoad);
var clock = Stopwatch.StartNew();
var tokens = ProgressBars.Generate(options.Tokens, p => lm.Generate(prompt, options.Tokens, sampling, p), _ => history.Record(lm.ExpertLoad));
var seconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"tokens: {string.Join(' ', tokens.Take(32))}{(tokens.Length > 32 ? " ..." : "")}");
Console.WriteLine($"prefill {prompt.Length} tokens: {prefillMs:F1} ms; decode: {tokens.Length} tokens in {seconds * 1000:F0} ms = {tokens.Length / seconds:F1} tokens/s (includes one prefill)");
// Where the time went, by kernel role (summed over every call, prefill included).
var total = lm.KernelTicks.Sum();
Console.WriteLine("time by kernel role:");
foreach (var role in TinyMoeLm.KernelRoles.Distinct())
{
    var ticks = TinyMoeLm.KernelRoles.Select((r, i) => r == role ? lm.KernelTicks[i] : 0).Sum();
    Console.WriteLine($"  {role,-10} {ticks * 1000.0 / Stopwatch.Frequency,9:F1} ms  {100.0 * ticks / Math.Max(1, total),5:F1} %");
}

for (var b = 0; b < lm.ExpertLoad.Length; b++)
{
    Console.WriteLine();
    Console.WriteLine($"expert load, MoE block {b} ({TinyMoeLm.Info.MoePrefixes[b].TrimEnd('.')}), over every call:");
    Console.Write(lm.ExpertLoad[b].ToTable());
}

if (options.LoadChart != null)
{
    history.WriteSvg(options.LoadChart, $"TinyMoeLm: expert load per generated token (step 1: the {prompt.Length}-token prompt)");
    Console.WriteLine();
    Console.WriteLine($"expert-load chart ({history.Steps} steps, {history.Blocks.Count} MoE blocks): {Path.GetFullPath(options.LoadChart)}");
}

return 0;

internal sealed record Options(int Tokens, string? Weights, string? Save, float Temperature, float TopP, int TopK, ulong Seed, bool Plan, string? LoadChart)
{
    public static Options? Parse(string[] args)
    {
        var o = new Options(64, null, null, 0.8f, 0.9f, 0, 1, false, null);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                o = args[i] switch
                {
                    "--tokens" => o with { Tokens = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--weights" => o with { Weights = Value() },
                    "--save" => o with { Save = Value() },
                    "--temperature" => o with { Temperature = float.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--top-p" => o with { TopP = float.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--top-k" => o with { TopK = int.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--seed" => o with { Seed = ulong.Parse(Value(), CultureInfo.InvariantCulture) },
                    "--plan" => o with { Plan = true },
                    "--load-chart" => o with { LoadChart = Value() },
                    _ => throw new ArgumentException($"unknown option '{args[i]}'"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
            {
                Console.Error.WriteLine($"{e.Message} (options: --tokens N, --weights F, --save F, --temperature T, --top-p P, --top-k K, --seed S, --plan, --load-chart F.svg)");
                return null;
            }
        }

        return o;
    }
}
