using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao;

/// <summary>Summaries of how evenly work is spread over experts.</summary>
public static class Balance
{
    /// <summary>Population standard deviation over mean; 0 for an even (or empty) load.</summary>
    public static double Cv(IReadOnlyList<double> load)
    {
        if (load.Count == 0)
        {
            return 0;
        }

        var mean = load.Average();
        if (mean == 0)
        {
            return 0;
        }

        var variance = load.Sum(x => (x - mean) * (x - mean)) / load.Count;
        return Math.Sqrt(variance) / mean;
    }

    /// <summary>Largest load over mean load; 1 for an even load, 0 when nothing ran.</summary>
    public static double MaxOverMean(IReadOnlyList<double> load)
    {
        var mean = load.Count == 0 ? 0 : load.Average();
        return mean == 0 ? 0 : load.Max() / mean;
    }

    /// <summary>
    /// DeepSeek-V3's aux-loss-free update: b_i ← b_i − γ·sign(load_i − mean load), where load is
    /// the routed tokens per expert of one step. Overloaded experts become less likely picks.
    /// </summary>
    public static void UpdateBias(float[] bias, MoeStats stats, float rate)
    {
        ArgumentNullException.ThrowIfNull(stats);
        if (stats.TokensPerExpert.Count != bias.Length)
        {
            throw new ArgumentException($"the statistics count {stats.TokensPerExpert.Count} experts but the bias has {bias.Length}", nameof(stats));
        }

        var mean = stats.TokensPerExpert.Sum(x => (double)x) / bias.Length;
        for (var i = 0; i < bias.Length; i++)
        {
            bias[i] -= rate * Math.Sign(stats.TokensPerExpert[i] - mean);
        }
    }
}
