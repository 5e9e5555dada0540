using System;
using System.IO;
using Spectre.Console;
using Wudao;
using Wudao.Models;

namespace TinyMoeLmExample;

/// <summary>
/// Spectre.Console progress bars for the long steps: loading weights and generating. Animated
/// on a terminal; redirected to a file, Spectre prints plain status lines instead.
/// </summary>
internal static class ProgressBars
{
    /// <summary>Runs <paramref name="load"/> under a bar of the bytes read.</summary>
    public static T LoadWeights<T>(string path, Func<IProgress<WeightLoadProgress>, T> load) =>
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var file = Markup.Escape(Path.GetFileName(path));
                var task = ctx.AddTask($"loading {file}", maxValue: 1);
                var model = load(new OnThread<WeightLoadProgress>(p =>
                {
                    task.MaxValue = Math.Max(1, p.Bytes);
                    task.Value = p.BytesRead;
                    if (p.TensorsRead == p.Tensors)
                    {
                        task.Description = $"read {file}; building the model"; // packing the weights takes a while after the last read
                    }
                }));
                task.Value = task.MaxValue; // a file of no bytes still ends the bar
                return model;
            });

    /// <summary>Runs <paramref name="generate"/> under a bar of the tokens made, with the rate; <paramref name="each"/> hears of every token too.</summary>
    public static int[] Generate(int maxNewTokens, Func<IProgress<GenerationProgress>, int[]> generate, Action<GenerationProgress> each) =>
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("generating", maxValue: Math.Max(1, maxNewTokens));
                var tokens = generate(new OnThread<GenerationProgress>(p =>
                {
                    each(p);
                    task.Description = $"generating {p.Generated}/{p.MaxNewTokens} tokens, {p.TokensPerSecond:F1} tok/s";
                    task.Value = p.Generated;
                }));
                task.Value = task.MaxValue; // a stop token can end the run early
                return tokens;
            });

    /// <summary>Reports on the working thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class OnThread<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
