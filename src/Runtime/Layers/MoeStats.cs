using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Wudao;

/// <summary>What routing did in one call.</summary>
public sealed class MoeStats
{
    /// <summary>Statistics of a router without the load-balancing loss: every loss comes by name.</summary>
    public MoeStats(int tokens, int capacity, int[] tokensPerExpert, int dropped, IReadOnlyDictionary<string, float> losses, int nonFinite = 0)
        : this(tokens, capacity, tokensPerExpert, dropped, losses.TryGetValue("load_balance", out var aux) ? aux : 0f, losses, nonFinite)
    {
        _hasBalanceLoss = losses.ContainsKey("load_balance");
    }

    /// <summary>Statistics of a router with the load-balancing loss <paramref name="auxLoss"/> (reported as <c>load_balance</c>); any other losses come by name in <paramref name="otherLosses"/>.</summary>
    public MoeStats(int tokens, int capacity, int[] tokensPerExpert, int dropped, float auxLoss, IReadOnlyDictionary<string, float>? otherLosses = null, int nonFinite = 0)
    {
        NonFinite = nonFinite;
        _hasBalanceLoss = true;
        _otherLosses = otherLosses;
        Tokens = tokens;
        Capacity = capacity;
        TokensPerExpert = tokensPerExpert;
        Dropped = dropped;
        AuxLoss = auxLoss;
    }

    /// <summary>Tokens in the call.</summary>
    public int Tokens { get; }

    /// <summary>Rows each expert could take; 0 = unlimited.</summary>
    public int Capacity { get; }

    /// <summary>Rows each expert processed (after capacity).</summary>
    public IReadOnlyList<int> TokensPerExpert { get; }

    /// <summary>Choices dropped because their expert was full; under expert choice, tokens no expert took.</summary>
    public int Dropped { get; }

    /// <summary>
    /// Tokens whose input row held a NaN or an infinity: their output rows are not finite (NaN where
    /// the gate could choose no expert); see <c>CheckFinite</c> to throw instead. Not counted (0)
    /// under expert choice.
    /// </summary>
    public int NonFinite { get; }

    /// <summary>Load-balancing loss α·E·Σ f_i·P_i; 0 for routers that balance otherwise (see <see cref="Losses"/>).</summary>
    public float AuxLoss { get; }

    private readonly IReadOnlyDictionary<string, float>? _otherLosses;
    private readonly bool _hasBalanceLoss;
    private Dictionary<string, float>? _losses;

    /// <summary>
    /// Every loss the router computed, by name: <c>load_balance</c> (= <see cref="AuxLoss"/>) for
    /// TopK, Switch and GShard, <c>router_z</c> when the router declares a z-loss, <c>importance</c>
    /// and <c>load</c> for NoisyTopK. Each is already multiplied by its weight.
    /// Built on first use, so a forward call that never asks allocates nothing for it.
    /// </summary>
    public IReadOnlyDictionary<string, float> Losses => _losses ??= BuildLosses();

    private Dictionary<string, float> BuildLosses()
    {
        var all = new Dictionary<string, float>();
        if (_hasBalanceLoss)
        {
            all["load_balance"] = AuxLoss;
        }

        foreach (var (name, value) in _otherLosses ?? new Dictionary<string, float>())
        {
            all[name] = value;
        }

        return all;
    }

    /// <summary>Rows kept over all experts.</summary>
    public int KeptRows => TokensPerExpert.Sum();

    /// <summary>Coefficient of variation of the per-expert load (0 = perfectly even).</summary>
    public double LoadCv => Balance.Cv(TokensPerExpert.Select(x => (double)x).ToArray());

    /// <summary>Busiest expert's load over the mean load (1 = perfectly even).</summary>
    public double MaxOverMean => Balance.MaxOverMean(TokensPerExpert.Select(x => (double)x).ToArray());

    /// <summary>A table with one bar per expert.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        var max = Math.Max(1, TokensPerExpert.DefaultIfEmpty(0).Max());
        for (var e = 0; e < TokensPerExpert.Count; e++)
        {
            var n = TokensPerExpert[e];
            sb.Append($"  expert {e,3} {n,7}  {new string('#', (int)Math.Round(30.0 * n / max))}\n");
        }

        sb.Append($"  tokens {Tokens}, capacity {(Capacity == 0 ? "unlimited" : Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture))}, dropped {Dropped}{(NonFinite > 0 ? $", non-finite tokens {NonFinite}" : "")}{string.Concat(Losses.Select(l => $", {l.Key} {l.Value:G6}"))}\n");
        sb.Append($"  balance: load CV {LoadCv:F3}, max/mean {MaxOverMean:F2}\n");
        return sb.ToString();
    }

    /// <summary>The same as <see cref="ToTable"/>.</summary>
    public override string ToString() => ToTable();
}
