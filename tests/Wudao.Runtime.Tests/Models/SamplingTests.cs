using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Wudao.Models;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>A model's emitted sampler against sampling's definition, and generation's contract (stop tokens, limits, progress).</summary>
public sealed class SamplingTests : IDisposable
{
    private static readonly float[] Three = { MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.2f) };

    private readonly Session _session = Session.Create(DeviceKind.Native, threads: 1);
    private readonly TinyLm _lm;

    public SamplingTests() => _lm = TinyLm.Create(_session, seed: 1);

    public void Dispose()
    {
        _lm.Dispose();
        _session.Dispose();
    }

    /// <summary>The model's sampler over <paramref name="head"/>, the rest of its vocabulary at −∞ (never drawn).</summary>
    private int Sample(float[] head, Sampling sampling, int step)
    {
        var logits = new float[_lm.Vocab];
        Array.Fill(logits, float.NegativeInfinity);
        head.CopyTo(logits, 0);
        return _lm.Sample(logits, sampling, step);
    }

    [Theory]
    [InlineData(1f, 0, 1f, new[] { 0.5, 0.3, 0.2 })]
    [InlineData(1f, 2, 1f, new[] { 0.625, 0.375, 0 })]
    [InlineData(1f, 0, 0.6f, new[] { 0.625, 0.375, 0 })] // 0.5 < 0.6, so the nucleus needs the second token
    [InlineData(1f, 0, 0.5f, new[] { 1.0, 0, 0 })]
    [InlineData(0.5f, 0, 1f, new[] { 25 / 38.0, 9 / 38.0, 4 / 38.0 })] // p^(1/T) renormalised
    public void Draws_follow_the_filtered_tempered_distribution(float temperature, int topK, float topP, double[] expected)
    {
        var sampling = new Sampling(temperature, topK, topP, Seed: 42);
        var counts = new int[3];
        const int draws = 20000;
        for (var step = 0; step < draws; step++)
        {
            counts[Sample(Three, sampling, step)]++;
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.InRange(counts[i] / (double)draws, expected[i] - 0.015, expected[i] + 0.015);
        }
    }

    [Fact]
    public void Top_k_of_negative_logits_draws_their_softmax()
    {
        var logits = new[] { -3f, -1f, -2f, -9f };
        var counts = new int[4];
        for (var step = 0; step < 20000; step++)
        {
            counts[Sample(logits, new Sampling(TopK: 2, Seed: 3), step)]++;
        }

        var p1 = 1 / (1 + Math.Exp(-1));
        Assert.InRange(counts[1] / 20000.0, p1 - 0.015, p1 + 0.015);
        Assert.InRange(counts[2] / 20000.0, 1 - p1 - 0.015, 1 - p1 + 0.015);
        Assert.Equal(0, counts[0] + counts[3]);
    }

    [Fact]
    public void Same_seed_same_tokens_other_seed_other_tokens()
    {
        var flat = new float[_lm.Vocab];
        IEnumerable<int> Run(ulong seed) => Enumerable.Range(0, 50).Select(s => _lm.Sample(flat, new Sampling(Seed: seed), s));

        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
    }

    [Theory]
    [InlineData(-1f, 0, 1f, "Temperature")]
    [InlineData(1f, -2, 1f, "TopK")]
    [InlineData(1f, 0, 0f, "TopP")]
    [InlineData(1f, 0, 1.5f, "TopP")]
    public void Meaningless_settings_are_refused(float temperature, int topK, float topP, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Sampling(temperature, topK, topP).Validate());

        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void Generation_stops_after_a_stop_token_and_reports_progress()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(session, seed: 3);
        var prompt = new[] { 5, 17, 33 };
        var free = lm.Generate(prompt, 12, Sampling.Greedy);
        var stop = free[4];
        var firstStop = Array.IndexOf(free, stop);

        var seen = new List<GenerationProgress>();
        var stopped = lm.Generate(prompt, 12, Sampling.Greedy with { StopTokens = new[] { stop } }, new Collect<GenerationProgress>(seen));

        Assert.Equal(free.Take(firstStop + 1), stopped);
        Assert.Equal(Enumerable.Range(1, stopped.Length), seen.Select(p => p.Generated));
        Assert.All(seen, p => Assert.Equal(12, p.MaxNewTokens));
        Assert.Equal(prompt.Length + stopped.Length - 1, lm.Length); // the last token is sampled, not fed back
    }

    [Fact]
    public void Generation_is_cancelled_between_tokens()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(session, seed: 3);
        var prompt = new[] { 5, 17, 33 };
        var free = lm.Generate(prompt, 12, Sampling.Greedy);
        using var cancel = new CancellationTokenSource();
        var seen = new List<GenerationProgress>();
        var progress = new Collect<GenerationProgress>(seen, p =>
        {
            if (p.Generated == 3)
            {
                cancel.Cancel();
            }
        });

        Assert.Throws<OperationCanceledException>(() => lm.Generate(prompt, 12, Sampling.Greedy, progress, cancel.Token));
        Assert.Equal(free.Take(3), seen.Select(p => p.LastToken)); // the tokens streamed before the cancel
        Assert.Equal(prompt.Length + 2, lm.Length);                 // the third was sampled, never fed back
        Assert.Throws<OperationCanceledException>(() => lm.Generate(prompt, 12, Sampling.Greedy, cancellationToken: cancel.Token));
        Assert.Equal(free, lm.Generate(prompt, 12, Sampling.Greedy)); // the next run resets and is whole
    }

    [Fact]
    public void Generation_checks_its_limits()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(session, seed: 3);

        Assert.Throws<ArgumentException>(() => lm.Generate(ReadOnlySpan<int>.Empty, 3, Sampling.Greedy));
        var tooLong = Assert.Throws<ArgumentException>(() => lm.Generate(new int[70], 20, Sampling.Greedy));
        Assert.Contains("MaxSequence (80)", tooLong.Message, StringComparison.Ordinal);
        var badId = Assert.Throws<ArgumentOutOfRangeException>(() => lm.Step(new[] { 3, 97 }));
        Assert.Contains("token id 97 at position 1", badId.Message, StringComparison.Ordinal);
        Assert.Empty(lm.Generate(new[] { 1 }, 0, Sampling.Greedy));
    }

    [Fact]
    public void Sampled_generation_is_reproducible_and_depends_on_the_seed()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 2);
        using var lm = TinyLm.Create(session, seed: 3);
        var prompt = new[] { 1, 2, 3, 4 };
        var sampling = new Sampling(Temperature: 1.5f, TopP: 0.95f, Seed: 11);

        var a = lm.Generate(prompt, 16, sampling);
        var b = lm.Generate(prompt, 16, sampling);
        var c = lm.Generate(prompt, 16, sampling with { Seed = 12 });

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    /// <summary>Reports on the calling thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Collect<T>(List<T> into, Action<T>? then = null) : IProgress<T>
    {
        public void Report(T value)
        {
            into.Add(value);
            then?.Invoke(value);
        }
    }
}
