using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Routing;
using Spectre.Console;
using Wudao;

// Usage: dotnet run -c Release --project examples/Routing [-- --tokens N] [--steps N] [--load-chart file.svg]
// Routes the same skewed batch through every router and prints what each did: a bar per
// expert, dropped tokens, each loss by name, and the balance summary over all steps.
// --load-chart writes the load of every step as an SVG chart, one row and one line per router.
var tokens = 2048;
var steps = 20;
string? chart = null;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--load-chart")
    {
        if (i + 1 >= args.Length)
        {
            Console.Error.WriteLine("--load-chart expects a file name");
            return 2;
        }

        chart = args[++i];
        continue;
    }

    var known = args[i] is "--tokens" or "--steps";
    if (!known || i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 1)
    {
        Console.Error.WriteLine(known ? $"{args[i]} expects a whole number >= 1" : $"unknown option '{args[i]}' (use --tokens N, --steps N, --load-chart F.svg)");
        return 2;
    }

    if (args[i] == "--tokens")
    {
        tokens = value;
    }
    else
    {
        steps = value;
    }

    i++;
}

using var session = Session.Create();
Console.WriteLine($"device: {session.DeviceName}; {tokens} tokens per step, {steps} steps per router");

// Tokens cluster around a few directions, so a fresh router is unbalanced, as in real data.
const int dim = 128;
var rng = new Random(7);
var centres = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, dim).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray()).ToArray();
var host = new float[tokens * dim];
for (var t = 0; t < tokens; t++)
{
    var c = centres[t % 7 == 0 ? 2 : t % 3 == 0 ? 1 : 0];
    for (var d = 0; d < dim; d++)
    {
        host[(t * dim) + d] = c[d] + (float)((rng.NextDouble() * 0.6) - 0.3);
    }
}

// Hash routing reads token ids: a Zipf-like draw, as word frequencies are.
var ids = Enumerable.Range(0, tokens).Select(_ => (int)Math.Min(31999, Math.Exp(rng.NextDouble() * Math.Log(32000)))).ToArray();
using var x = session.Upload(host, tokens, dim);

// The tables are printed once the progress bar is done: a live bar and printed lines do not mix.
const int routers = 7;
var history = new ExpertLoadHistory();
var reports = new List<string>();
var (first, final) = (0.0, 0.0);
AnsiConsole.Progress()
    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
    .Start(ctx =>
    {
        var bar = ctx.AddTask("routing", maxValue: routers * steps);
        Run(bar, TopKMoe.Create(session, 1), (l, _) => l.Forward(x));
        Run(bar, SwitchMoe.Create(session, 1), (l, _) => l.Forward(x));
        Run(bar, GShardMoe.Create(session, 1), (l, _) => l.Forward(x));
        Run(bar, NoisyMoe.Create(session, 1), (l, _) => l.Forward(x));
        Run(bar, ExpertChoiceMoe.Create(session, 1), (l, _) => l.Forward(x));
        Run(bar, HashMoe.Create(session, 1), (l, _) => l.Forward(x, ids));

        // DeepSeek balances without a loss: after each step the bias moves against each expert's excess load.
        Run(bar, DeepSeekMoe.Create(session, 1), (l, step) =>
        {
            var result = l.Forward(x);
            first = step == 0 ? result.Stats.LoadCv : first;
            final = result.Stats.LoadCv;
            l.UpdateBalanceBias(result.Stats);
            return result;
        });
    });

foreach (var report in reports)
{
    Console.Write(report);
}

Console.WriteLine($"DeepSeek's bias update moved the load CV from {first:F3} (first step) to {final:F3} (step {steps}).");
if (chart != null)
{
    history.WriteSvg(chart, $"Routing: expert load of {history.Blocks.Count} routers on one skewed batch of {tokens} tokens");
    Console.WriteLine($"expert-load chart ({history.Blocks.Count} routers, {steps} steps each): {Path.GetFullPath(chart)}");
}

return 0;

void Run<TLayer>(ProgressTask bar, TLayer layer, Func<TLayer, int, MoeResult> step)
    where TLayer : IMoeLayer
{
    using (layer)
    {
        var name = layer.Info.Router.ToString();
        bar.Description = $"routing: {name}";
        var overall = new MoeStatsAccumulator();
        MoeResult? last = null;
        for (var s = 0; s < steps; s++)
        {
            last?.Dispose();
            last = step(layer, s);
            overall.Add(last.Stats);
            history.Record(name, last.Stats);
            bar.Increment(1);
        }

        reports.Add($"\n== {name} ({layer.Info})\nlast step:\n{last!.Stats.ToTable()}all {overall.Calls} steps:\n{overall.ToTable()}");
        last.Dispose();
    }
}
