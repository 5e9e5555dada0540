using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Wudao;

/// <summary>Routing statistics summed over many calls: total load per expert, drops, mean losses.</summary>
public sealed class MoeStatsAccumulator
{
    private long[] _load = Array.Empty<long>();
    private readonly Dictionary<string, double> _lossSums = new();

    /// <summary>Calls added so far.</summary>
    public int Calls { get; private set; }

    /// <summary>Tokens over all calls.</summary>
    public long Tokens { get; private set; }

    /// <summary>Dropped choices (or, under expert choice, untaken tokens) over all calls.</summary>
    public long Dropped { get; private set; }

    /// <summary>Rows each expert processed, summed over the calls.</summary>
    public IReadOnlyList<long> TokensPerExpert => _load;

    /// <summary>Each loss's mean over the calls.</summary>
    public IReadOnlyDictionary<string, double> MeanLosses => _lossSums.ToDictionary(kv => kv.Key, kv => Calls == 0 ? 0 : kv.Value / Calls);

    /// <summary>Coefficient of variation of the summed per-expert load (0 = perfectly even).</summary>
    public double LoadCv => Balance.Cv(_load.Select(x => (double)x).ToArray());

    /// <summary>Busiest expert's summed load over the mean load (1 = perfectly even).</summary>
    public double MaxOverMean => Balance.MaxOverMean(_load.Select(x => (double)x).ToArray());

    /// <summary>Adds one call's statistics; throws when its expert count differs from the earlier calls'.</summary>
    public void Add(MoeStats stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        if (_load.Length == 0)
        {
            _load = new long[stats.TokensPerExpert.Count];
        }
        else if (_load.Length != stats.TokensPerExpert.Count)
        {
            throw new ArgumentException($"statistics of {stats.TokensPerExpert.Count} experts cannot be added to those of {_load.Length}", nameof(stats));
        }

        for (var e = 0; e < _load.Length; e++)
        {
            _load[e] += stats.TokensPerExpert[e];
        }

        foreach (var (name, value) in stats.Losses)
        {
            _lossSums[name] = _lossSums.GetValueOrDefault(name) + value;
        }

        Calls++;
        Tokens += stats.Tokens;
        Dropped += stats.Dropped;
    }

    /// <summary>A table with one bar per expert and the summary lines.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        var max = Math.Max(1, _load.DefaultIfEmpty(0).Max());
        for (var e = 0; e < _load.Length; e++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  expert {e,3} {_load[e],9}  {new string('#', (int)Math.Round(30.0 * _load[e] / max))}\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"  {Calls} calls, {Tokens} tokens, dropped {Dropped}, load CV {LoadCv:F3}, max/mean {MaxOverMean:F2}");
        foreach (var (name, value) in MeanLosses)
        {
            sb.Append(CultureInfo.InvariantCulture, $", mean {name} {value:G6}");
        }

        return sb.Append('\n').ToString();
    }
}
