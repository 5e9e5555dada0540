using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Models;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>
/// Each model's emitted sampler (its plan's sample op, the vocabulary a constant) against the
/// reference that the runtime used to run: the same token for the same logits, options and step,
/// and generation that draws the same tokens as a loop over the model's steps and the reference.
/// </summary>
public sealed class EmittedSamplerTests : IDisposable
{
    private readonly Session _session = Session.Create(DeviceKind.Native, threads: 1);
    private readonly List<IDisposable> _models = new();

    public void Dispose()
    {
        foreach (var m in _models)
        {
            m.Dispose();
        }

        _session.Dispose();
    }

    /// <summary>Vocabularies of 97 (vectors and a tail), 50, 40 (vectors only) and 7 (no vector).</summary>
    private IEnumerable<ICausalLm> Models()
    {
        if (_models.Count == 0)
        {
            _models.AddRange(new IDisposable[] { TinyLm.Create(_session, 1), TinyLayerNormLm.Create(_session, 1), GeGluTinyLm.Create(_session, 1), TinyVocabLm.Create(_session, 1) });
        }

        return _models.Cast<ICausalLm>();
    }

    /// <summary>Few distinct values of both signs (ties, −0 and +0 common), with infinities and NaNs placed by the trial.</summary>
    private static float[] Logits(Random rng, int vocab, int trial)
    {
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)(rng.Next(-4, 5) * 0.5)).ToArray();
        logits[rng.Next(vocab)] = -0f;
        switch (trial % 6)
        {
            case 0:
                // The largest value as −0 before +0: a tie, broken by the lower id.
                Array.Fill(logits, -1f);
                logits[rng.Next(vocab / 2)] = -0f;
                logits[vocab - 1] = 0f;
                break;
            case 1:
                logits[rng.Next(vocab)] = float.NaN;
                break;
            case 2:
                // A NaN at id 0 stays the greedy choice: the scan from 0 never finds a larger value.
                logits[0] = float.NaN;
                break;
            case 3:
                logits[rng.Next(vocab)] = float.PositiveInfinity;
                logits[rng.Next(vocab)] = float.NegativeInfinity;
                break;
            case 4:
                Array.Fill(logits, float.NegativeInfinity);
                logits[rng.Next(vocab)] = float.NaN;
                break;
        }

        return logits;
    }

    [Fact]
    public void Greedy_equals_the_reference_with_ties_signed_zeros_infinities_and_nans()
    {
        foreach (var lm in Models())
        {
            var rng = new Random(lm.Vocab);
            for (var trial = 0; trial < 600; trial++)
            {
                var logits = Logits(rng, lm.Vocab, trial);
                Assert.Equal(SamplerReference.ArgMax(logits), lm.Sample(logits, Sampling.Greedy, trial));
            }
        }
    }

    [Fact]
    public void Greedy_takes_the_largest_logit_ties_to_the_lower_id()
    {
        var lm = Models().First(m => m.Vocab == 7);

        Assert.Equal(2, lm.Sample(new[] { 0f, 1f, 3f, 3f, -1f, -2f, 3f }, Sampling.Greedy, 0));
        Assert.Equal(1, lm.Sample(new[] { -1f, -0f, -1f, float.NaN, 0f, -2f, 0f }, Sampling.Greedy, 0));
        Assert.Equal(0, lm.Sample(new[] { float.NaN, 1f, 3f, 3f, -1f, -2f, 3f }, Sampling.Greedy, 0));
    }

    [Theory]
    [InlineData(1f, 0, 1f)]
    [InlineData(0.7f, 0, 0.9f)]
    [InlineData(1.5f, 5, 1f)]
    [InlineData(1f, 3, 0.8f)]
    [InlineData(0.3f, 200, 0.95f)]
    [InlineData(2f, 1, 1f)]
    public void Draws_equal_the_reference_over_seeds_and_steps(float temperature, int topK, float topP)
    {
        foreach (var lm in Models())
        {
            var rng = new Random(lm.Vocab + topK);
            for (var trial = 0; trial < 120; trial++)
            {
                // NaNs aside: the temperature path never met them and a NaN's softmax means nothing.
                var logits = Logits(rng, lm.Vocab, trial).Select(x => float.IsNaN(x) ? 1f : x).ToArray();
                if (trial % 3 == 0)
                {
                    logits = Enumerable.Range(0, lm.Vocab).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
                }

                var sampling = new Sampling(temperature, topK, topP, Seed: (ulong)rng.NextInt64());
                for (var step = 0; step < 8; step++)
                {
                    Assert.Equal(SamplerReference.Next(logits, sampling, step), lm.Sample(logits, sampling, step));
                }
            }
        }
    }

    [Fact]
    public void Top_k_of_one_and_a_tiny_nucleus_keep_the_greedy_token()
    {
        foreach (var lm in Models())
        {
            var rng = new Random(5);
            for (var trial = 0; trial < 200; trial++)
            {
                var logits = Logits(rng, lm.Vocab, trial).Select(x => float.IsNaN(x) ? 1f : x).ToArray();
                var greedy = lm.Sample(logits, Sampling.Greedy, trial);

                Assert.Equal(greedy, lm.Sample(logits, new Sampling(Temperature: 1f, TopK: 1), trial));
                Assert.Equal(greedy, lm.Sample(logits, new Sampling(Temperature: 1f, TopP: 1e-6f), trial));
            }
        }
    }

    [Fact]
    public void Sample_reads_the_last_row_and_refuses_what_is_not_rows_of_the_vocabulary()
    {
        var lm = Models().First(m => m.Vocab == 7);
        var two = new[] { 9f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 5f };

        Assert.Equal(6, lm.Sample(two, Sampling.Greedy, 0));
        Assert.Throws<ArgumentException>(() => lm.Sample(new float[8], Sampling.Greedy, 0));
        Assert.Throws<ArgumentException>(() => lm.Sample(ReadOnlySpan<float>.Empty, Sampling.Greedy, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => lm.Sample(new float[7], new Sampling(TopP: 0f), 0));
    }

    /// <summary>The regression check: generation draws what the runtime's sampler drew, step by step, for the same seed.</summary>
    [Theory]
    [InlineData(0f, 0, 1f, 0UL)]
    [InlineData(1f, 0, 1f, 11UL)]
    [InlineData(1.5f, 0, 0.95f, 11UL)]
    [InlineData(0.8f, 20, 0.9f, 3UL)]
    public void Generation_draws_the_reference_tokens(float temperature, int topK, float topP, ulong seed)
    {
        var lm = TinyLm.Create(_session, seed: 3);
        _models.Add(lm);
        var prompt = new[] { 1, 2, 3, 4 };
        var sampling = new Sampling(temperature, topK, topP, seed);

        var generated = lm.Generate(prompt, 24, sampling);

        lm.Reset();
        var expected = new List<int>();
        var logits = lm.Step(prompt);
        for (var step = 0; step < 24; step++)
        {
            expected.Add(SamplerReference.Next(logits, sampling, step));
            logits = lm.Step(new[] { expected[^1] });
        }

        Assert.Equal(expected, generated);
    }
}
