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
}
