using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Wudao.GpuRunner.Report;
using Wudao.Models;

namespace Wudao.GpuRunner.Bench;

/// <summary>
/// Greedy decoding of the TinyMoeLm example on the accelerator's device schedule: a 32-token
/// prompt (prefill), then 64 tokens one at a time through the KV caches, each chosen by the
/// device's argmax (<see cref="ICausalLm.Next"/>). Tokens/s = tokens ÷ decode time; --quick runs
/// a narrower model of the same layout.
/// </summary>
public static class DecodeBench
{
    public static IEnumerable<ResultRow> Run(Session session, BenchSettings settings)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(settings);
        var lm = settings.Quick ? (ICausalLm)QuickLm.Create(session, seed: 1) : TinyMoeLm.Create(session, seed: 1);
        using var owned = (IDisposable)lm;
        int promptLength = settings.Quick ? 4 : 32, tokens = settings.Quick ? 4 : 64, runs = settings.Quick ? 1 : 5;
        var prompt = Enumerable.Range(0, promptLength).Select(i => ((i * 97) + 13) % lm.Vocab).ToArray();
        var name = settings.Quick ? "QuickLm" : "TinyMoeLm";
        Decode(lm, prompt, settings.Quick ? 1 : 8);
        var prefill = new double[runs];
        var decode = new double[runs];
        for (var r = 0; r < runs; r++)
        {
            (prefill[r], decode[r]) = Decode(lm, prompt, tokens);
        }

        var ms = new Sample(decode.Select(s => s * 1e3 / tokens).ToArray());
        var rate = 1e3 / ms.Median;
        yield return new ResultRow("decode", $"{name} greedy decode, {tokens} tokens after a {promptLength}-token prompt", $"Wudao ({session.Kind})", "a decode step",
            ms.Median, ms.Min, runs, rate, "tokens/s", Note: $"prefill {new Sample(prefill.Select(s => s * 1e3).ToArray()).Median:0.##} ms");
    }

    /// <summary>Seconds of the prefill and of <paramref name="tokens"/> decode steps.</summary>
    private static (double Prefill, double Decode) Decode(ICausalLm lm, int[] prompt, int tokens)
    {
        lm.Reset();
        var start = Stopwatch.GetTimestamp();
        var token = lm.Next(prompt, Sampling.Greedy, 0);
        var prefill = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        for (var i = 1; i <= tokens; i++)
        {
            token = lm.Next(new[] { token }, Sampling.Greedy, i);
        }

        return (prefill, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
}
