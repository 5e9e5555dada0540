using System;
using System.Globalization;
using System.Linq;
using Routing;
using Wudao;

// Usage: dotnet run -c Release --project examples/Routing [-- --tokens N] [--steps N]
// Routes the same skewed batch through every router and prints what each did: a bar per
// expert, dropped tokens, each loss by name, and the balance summary over all steps.
var tokens = 2048;
var steps = 20;
for (var i = 0; i < args.Length; i++)
{
    var known = args[i] is "--tokens" or "--steps";
    if (!known || i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 1)
    {
        Console.Error.WriteLine(known ? $"{args[i]} expects a whole number >= 1" : $"unknown option '{args[i]}' (use --tokens N, --steps N)");
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

Report(TopKMoe.Create(session, 1), (l, _) => l.Forward(x));
Report(SwitchMoe.Create(session, 1), (l, _) => l.Forward(x));
Report(GShardMoe.Create(session, 1), (l, _) => l.Forward(x));
Report(NoisyMoe.Create(session, 1), (l, _) => l.Forward(x));
Report(ExpertChoiceMoe.Create(session, 1), (l, _) => l.Forward(x));
Report(HashMoe.Create(session, 1), (l, _) => l.Forward(x, ids));

// DeepSeek balances without a loss: after each step the bias moves against each expert's excess load.
var (first, final) = (0.0, 0.0);
Report(DeepSeekMoe.Create(session, 1), (l, step) =>
{
    var result = l.Forward(x);
    first = step == 0 ? result.Stats.LoadCv : first;
    final = result.Stats.LoadCv;
    l.UpdateBalanceBias(result.Stats);
    return result;
});
Console.WriteLine($"DeepSeek's bias update moved the load CV from {first:F3} (first step) to {final:F3} (step {steps}).");
return 0;

void Report<TLayer>(TLayer layer, Func<TLayer, int, MoeResult> step)
    where TLayer : IMoeLayer
{
    using (layer)
    {
        var overall = new MoeStatsAccumulator();
        MoeResult? last = null;
        for (var s = 0; s < steps; s++)
        {
            last?.Dispose();
            last = step(layer, s);
            overall.Add(last.Stats);
        }

        Console.WriteLine();
        Console.WriteLine($"== {layer.Info.Router} ({layer.Info})");
        Console.WriteLine("last step:");
        Console.Write(last!.Stats.ToTable());
        Console.WriteLine($"all {overall.Calls} steps:");
        Console.Write(overall.ToTable());
        last.Dispose();
    }
}
