using System;
using System.Collections.Generic;

namespace Wudao.Models;

/// <summary>
/// How the next token is drawn from the logits. Temperature 0 is greedy (argmax, ties to the
/// lower id); otherwise softmax(logits / Temperature), kept to the TopK most likely (0 = all),
/// then to the smallest set whose probability reaches TopP (1 = all), drawn with a counter RNG
/// seeded by <see cref="Seed"/>: the same seed and prompt give the same tokens everywhere.
/// </summary>
public sealed record Sampling(float Temperature = 1f, int TopK = 0, float TopP = 1f, ulong Seed = 0, IReadOnlyList<int>? StopTokens = null)
{
    public static Sampling Greedy { get; } = new(Temperature: 0f);

    /// <summary>Throws on values that cannot mean anything (negative temperature, TopP outside (0, 1]).</summary>
    public void Validate()
    {
        if (!(Temperature >= 0f) || float.IsInfinity(Temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), $"Temperature = {Temperature} must be a finite number >= 0 (0 = greedy)");
        }

        if (TopK < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), $"TopK = {TopK} must be >= 0 (0 = no limit)");
        }

        if (!(TopP > 0f && TopP <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), $"TopP = {TopP} must be in (0, 1] (1 = no limit)");
        }
    }
}

/// <summary>Draws tokens from logits as <see cref="Sampling"/> says.</summary>
public static class Sampler
{
    /// <summary>The token at generation step <paramref name="step"/> (the RNG counter).</summary>
    public static int Next(ReadOnlySpan<float> logits, Sampling sampling, int step)
    {
        if (sampling.Temperature == 0f)
        {
            return ArgMax(logits);
        }

        // Candidates by descending logit (ties to the lower id), cut to TopK.
        var ids = new int[logits.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = i;
        }

        var keys = logits.ToArray();
        Array.Sort(ids, (a, b) => keys[a] != keys[b] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
        var count = sampling.TopK > 0 ? Math.Min(sampling.TopK, ids.Length) : ids.Length;

        // Softmax over the candidates at the temperature, in double: the tail must not vanish.
        var max = keys[ids[0]];
        var p = new double[count];
        var sum = 0.0;
        for (var i = 0; i < count; i++)
        {
            p[i] = Math.Exp((keys[ids[i]] - max) / sampling.Temperature);
            sum += p[i];
        }

        // Nucleus: the smallest prefix whose probability reaches TopP (always at least one token).
        var kept = 0;
        var mass = 0.0;
        while (kept < count && (kept == 0 || mass < sampling.TopP * sum))
        {
            mass += p[kept++];
        }

        var seed = new CounterSeed(sampling.Seed);
        var u = CounterRng.Uniform(seed.Lo, seed.Hi, step, 0) * mass;
        var acc = 0.0;
        for (var i = 0; i < kept; i++)
        {
            acc += p[i];
            if (u < acc)
            {
                return ids[i];
            }
        }

        return ids[kept - 1];
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }
}
