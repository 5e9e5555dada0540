using System;
using System.Buffers;
using Wudao.Models;

namespace Wudao.Runtime.Tests.Reference;

/// <summary>
/// Sampling as the runtime did it before each model compiled its own sampler, kept verbatim: the
/// emitted <c>Sample</c> must draw the same token for the same logits, options and step.
/// </summary>
public static class SamplerReference
{
    /// <summary>The token at generation step <paramref name="step"/> (the RNG counter).</summary>
    public static int Next(ReadOnlySpan<float> logits, Sampling sampling, int step)
    {
        if (sampling.Temperature == 0f)
        {
            return ArgMax(logits);
        }

        // Candidates by descending logit, ties to the lower id, as one 64-bit key each (so a
        // primitive sort orders them): the TopK best by selection, else all of them sorted.
        var count = sampling.TopK > 0 ? Math.Min(sampling.TopK, logits.Length) : logits.Length;
        var keys = ArrayPool<ulong>.Shared.Rent(logits.Length);
        var p = ArrayPool<double>.Shared.Rent(count);
        try
        {
            var candidates = count < logits.Length ? Best(logits, count, keys) : All(logits, keys);
            var max = Logit(candidates[0]);

            // Softmax over the candidates at the temperature, in double: the tail must not vanish.
            var sum = 0.0;
            for (var i = 0; i < count; i++)
            {
                p[i] = Math.Exp((Logit(candidates[i]) - max) / sampling.Temperature);
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
                    return Id(candidates[i]);
                }
            }

            return Id(candidates[kept - 1]);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(keys);
            ArrayPool<double>.Shared.Return(p);
        }
    }

    /// <summary>Sorts ascending as (logit descending, id ascending): the logit's bits made order-preserving, then inverted.</summary>
    private static ulong Key(float logit, int id)
    {
        // −0 and +0 are one value, as for ArgMax.
        var bits = BitConverter.SingleToUInt32Bits(logit == 0f ? 0f : logit);
        bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
        return ((ulong)~bits << 32) | (uint)id;
    }

    private static int Id(ulong key) => (int)(uint)key;

    private static float Logit(ulong key)
    {
        var bits = ~(uint)(key >> 32);
        bits = (bits & 0x80000000u) != 0 ? bits & 0x7FFFFFFFu : ~bits;
        return BitConverter.UInt32BitsToSingle(bits);
    }

    private static Span<ulong> All(ReadOnlySpan<float> logits, ulong[] keys)
    {
        var all = keys.AsSpan(0, logits.Length);
        for (var i = 0; i < logits.Length; i++)
        {
            all[i] = Key(logits[i], i);
        }

        all.Sort();
        return all;
    }

    /// <summary>The <paramref name="count"/> smallest keys in order, by insertion into a sorted prefix: one pass over the vocabulary.</summary>
    private static Span<ulong> Best(ReadOnlySpan<float> logits, int count, ulong[] keys)
    {
        var best = keys.AsSpan(0, count);
        var filled = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var key = Key(logits[i], i);
            if (filled == count && key >= best[count - 1])
            {
                continue;
            }

            var at = filled < count ? filled++ : count - 1;
            while (at > 0 && best[at - 1] > key)
            {
                best[at] = best[at - 1];
                at--;
            }

            best[at] = key;
        }

        return best;
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
