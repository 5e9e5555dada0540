using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;

namespace Wudao.Models;

/// <summary>A model that extends one sequence through its KV cache: what generation needs.</summary>
public interface ICausalLm
{
    /// <summary>Vocabulary size: token ids are in [0, Vocab), and logits have Vocab entries.</summary>
    int Vocab { get; }

    /// <summary>Tokens the KV cache holds: the longest sequence the model can extend.</summary>
    int MaxSequence { get; }

    /// <summary>Tokens in the cache.</summary>
    int Length { get; }

    /// <summary>Empties the cache: the next step starts a new sequence.</summary>
    void Reset();

    /// <summary>Appends <paramref name="tokens"/> (a prompt, or one token) and returns the logits after the last of them.</summary>
    float[] Step(ReadOnlySpan<int> tokens);

    /// <summary>
    /// The next token from the last row of <paramref name="logits"/>, as <paramref name="sampling"/> says;
    /// <paramref name="step"/> is the random draw's counter. Compiled from the model's plan (its sample op).
    /// </summary>
    int Sample(ReadOnlySpan<float> logits, Sampling sampling, int step);

    /// <summary>
    /// Appends <paramref name="tokens"/> and returns the next token, as <see cref="Sample"/> of the
    /// step's logits would; a device session takes greedy's argmax where the logits are.
    /// </summary>
    int Next(ReadOnlySpan<int> tokens, Sampling sampling, int step);
}

/// <summary>Where a generation run is, for a progress display.</summary>
public readonly record struct GenerationProgress(int Generated, int MaxNewTokens, int LastToken, double TokensPerSecond);

/// <summary>Prefill, then one token at a time: sampling, stop tokens, progress.</summary>
public static class TextGeneration
{
    /// <summary>
    /// Generates up to <paramref name="maxNewTokens"/> tokens after <paramref name="prompt"/> (the
    /// cache is reset first). Stops after emitting a stop token, which is included in the result.
    /// <paramref name="progress"/> hears of each token as it is chosen (so a caller can stream it),
    /// on the generating thread; <paramref name="cancellationToken"/> is checked before every step
    /// and throws <see cref="OperationCanceledException"/>, leaving the cache to the next Generate's reset.
    /// </summary>
    public static int[] Generate(ICausalLm model, ReadOnlySpan<int> prompt, int maxNewTokens, Sampling sampling, IProgress<GenerationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sampling);
        sampling.Validate();
        if (prompt.IsEmpty)
        {
            throw new ArgumentException("the prompt must hold at least one token", nameof(prompt));
        }

        if (maxNewTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxNewTokens), $"maxNewTokens = {maxNewTokens} must be >= 0");
        }

        // The last new token is sampled, never fed back: the cache holds prompt + maxNewTokens − 1.
        if (prompt.Length + Math.Max(0, maxNewTokens - 1) > model.MaxSequence)
        {
            throw new ArgumentException($"prompt ({prompt.Length}) + maxNewTokens ({maxNewTokens}) − 1 exceeds the model's MaxSequence ({model.MaxSequence})", nameof(maxNewTokens));
        }

        var stops = new HashSet<int>(sampling.StopTokens ?? Array.Empty<int>());
        var output = new List<int>(maxNewTokens);
        model.Reset();
        if (maxNewTokens == 0)
        {
            return Array.Empty<int>();
        }

        Span<int> next = stackalloc int[1];
        cancellationToken.ThrowIfCancellationRequested();
        next[0] = model.Next(prompt, sampling, 0);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            output.Add(next[0]);
            progress?.Report(new GenerationProgress(output.Count, maxNewTokens, next[0], output.Count / Math.Max(1e-9, clock.Elapsed.TotalSeconds)));
            if (output.Count == maxNewTokens || stops.Contains(next[0]))
            {
                return output.ToArray();
            }

            cancellationToken.ThrowIfCancellationRequested();
            next[0] = model.Next(next, sampling, output.Count);
        }
    }
}
