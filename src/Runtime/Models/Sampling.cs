using System;
using System.Collections.Generic;

namespace Wudao.Models;

/// <summary>
/// How the next token is drawn from the logits. Temperature 0 is greedy (argmax, ties to the
/// lower id); otherwise softmax(logits / Temperature), kept to the TopK most likely (0 = all),
/// then to the smallest set whose probability reaches TopP (1 = all), drawn with a counter RNG
/// seeded by <see cref="Seed"/>: the same seed and prompt give the same tokens everywhere. Each model
/// compiles its own sampler (<see cref="ICausalLm.Sample"/>); this record holds its options.
/// </summary>
public sealed record Sampling(float Temperature = 1f, int TopK = 0, float TopP = 1f, ulong Seed = 0, IReadOnlyList<int>? StopTokens = null)
{
    /// <summary>Temperature 0: always the most likely token.</summary>
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
