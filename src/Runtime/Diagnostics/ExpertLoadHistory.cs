using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Wudao;

/// <summary>
/// Tokens per expert, step by step, for each MoE block (a model's MoE layer, or a standalone
/// layer under a name): recorded after each call or training step, written as an SVG chart with
/// <see cref="ToSvg"/> or <see cref="WriteSvg"/> — a heat map of each expert's share of its
/// block's tokens, and each block's load CV over the steps.
/// </summary>
/// <example>
/// <code>
/// var history = new ExpertLoadHistory(model.Info.MoePrefixes);
/// history.StartFrom(model.ExpertLoad);             // leave out what ran before
/// // ... after every step:
/// history.Record(model.ExpertLoad);                // one step per block: what ran since the last call
/// history.WriteSvg("load.svg", "expert load");
/// </code>
/// </example>
public sealed class ExpertLoadHistory
{
    private readonly List<string> _names = new();
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly List<List<long[]>> _steps = new();
    private long[][]? _lastTotals;

    /// <summary>Most points a line of the chart holds; longer runs draw each point as the mean of consecutive steps.</summary>
    public const int MaxChartPoints = 1000;

    /// <summary>A history whose blocks are added as <see cref="Record(string, IReadOnlyList{long})"/> first names them, or by position ("block 0", ...) when accumulators are recorded.</summary>
    public ExpertLoadHistory()
    {
    }

    /// <summary>A history of the blocks <paramref name="blockNames"/>, in this order; recorded accumulators map to them by position.</summary>
    public ExpertLoadHistory(IEnumerable<string> blockNames)
    {
        ArgumentNullException.ThrowIfNull(blockNames);
        foreach (var name in blockNames)
        {
            if (_index.ContainsKey(name ?? throw new ArgumentException("a block name is null", nameof(blockNames))))
            {
                throw new ArgumentException($"the block name '{name}' appears twice", nameof(blockNames));
            }

            AddBlock(name);
        }
    }

    /// <summary>The blocks' names, in the order they were declared or first recorded.</summary>
    public IReadOnlyList<string> Blocks => _names;

    /// <summary>The most steps recorded for any block (the length of the chart's time axis).</summary>
    public int Steps => _steps.Count == 0 ? 0 : _steps.Max(s => s.Count);

    /// <summary>Steps recorded for block <paramref name="block"/>.</summary>
    public int StepsOf(int block) => _steps[CheckBlock(block)].Count;

    /// <summary>Experts of block <paramref name="block"/>; 0 before its first step.</summary>
    public int ExpertsOf(int block) => _steps[CheckBlock(block)].FirstOrDefault()?.Length ?? 0;

    /// <summary>Tokens each expert of block <paramref name="block"/> took in step <paramref name="step"/>.</summary>
    public IReadOnlyList<long> Load(int block, int step)
    {
        var steps = _steps[CheckBlock(block)];
        if ((uint)step >= (uint)steps.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(step), $"step {step} of block '{_names[block]}', which has {steps.Count}");
        }

        return steps[step];
    }

    /// <summary>Tokens each expert of block <paramref name="block"/> took over every recorded step.</summary>
    public IReadOnlyList<long> Total(int block)
    {
        var total = new long[ExpertsOf(block)];
        foreach (var step in _steps[block])
        {
            for (var e = 0; e < total.Length; e++)
            {
                total[e] += step[e];
            }
        }

        return total;
    }

    /// <summary>Appends one step of block <paramref name="block"/> (added if new): the tokens each expert took.</summary>
    /// <exception cref="ArgumentException">The expert count differs from the block's earlier steps, or a count is negative.</exception>
    public void Record(string block, IReadOnlyList<long> tokensPerExpert)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(tokensPerExpert);
        var index = _index.TryGetValue(block, out var known) ? known : -1;
        Check(block, index < 0 ? 0 : ExpertsOf(index), tokensPerExpert);
        _steps[index < 0 ? AddBlock(block) : index].Add(tokensPerExpert.ToArray());
    }

    /// <summary>Appends one step of block <paramref name="block"/> (added if new): the load of one call's <paramref name="stats"/>.</summary>
    public void Record(string block, MoeStats stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        Record(block, stats.TokensPerExpert.Select(n => (long)n).ToArray());
    }

    /// <summary>
    /// Appends one step to every block: what each accumulator (a model's <c>ExpertLoad</c>, one per
    /// MoE block) counted since the last <see cref="Record(IReadOnlyList{MoeStatsAccumulator})"/> or
    /// <see cref="StartFrom"/>, or since it was created. Blocks map by position to the names given
    /// to the constructor, or are named "block 0", "block 1", ...
    /// </summary>
    /// <exception cref="ArgumentException">The accumulators differ in number or expert count from the blocks, or one counts less than at the last snapshot (it is not the same accumulator).</exception>
    public void Record(IReadOnlyList<MoeStatsAccumulator> cumulative)
    {
        var totals = Snapshot(cumulative);
        var deltas = new long[totals.Length][];
        for (var b = 0; b < totals.Length; b++)
        {
            if (totals[b].Length == 0)
            {
                throw new ArgumentException($"block '{_names[b]}' has counted no call yet: record after its first forward call", nameof(cumulative));
            }

            var last = _lastTotals?[b];
            deltas[b] = totals[b].Select((n, e) => n - (last is { Length: > 0 } ? last[e] : 0)).ToArray();
            if (deltas[b].Any(d => d < 0))
            {
                throw new ArgumentException($"block '{_names[b]}' counts fewer tokens than at the last snapshot: record the same accumulators each time", nameof(cumulative));
            }

            Check(_names[b], ExpertsOf(b), deltas[b]);
        }

        for (var b = 0; b < deltas.Length; b++)
        {
            _steps[b].Add(deltas[b]);
        }

        _lastTotals = totals;
    }

    /// <summary>Takes the accumulators' present totals as the point the next <see cref="Record(IReadOnlyList{MoeStatsAccumulator})"/> counts from, recording no step.</summary>
    public void StartFrom(IReadOnlyList<MoeStatsAccumulator> cumulative) => _lastTotals = Snapshot(cumulative);

    /// <summary>Each expert's share of its block's tokens over every step (0 for a block that routed none); one row per block.</summary>
    public double[][] Shares() => Enumerable.Range(0, _names.Count).Select(b =>
    {
        var total = Total(b);
        var sum = (double)total.Sum();
        return total.Select(n => sum == 0 ? 0 : n / sum).ToArray();
    }).ToArray();

    /// <summary>Load CV (see <see cref="Balance.Cv"/>) of block <paramref name="block"/> in each of its steps.</summary>
    public double[] LoadCv(int block) => _steps[CheckBlock(block)].Select(Cv).ToArray();

    /// <summary>Load CV of block <paramref name="block"/> over its steps so far: entry s covers steps 0..s.</summary>
    public double[] CumulativeLoadCv(int block)
    {
        var steps = _steps[CheckBlock(block)];
        var sum = new long[ExpertsOf(block)];
        var cv = new double[steps.Count];
        for (var s = 0; s < steps.Count; s++)
        {
            for (var e = 0; e < sum.Length; e++)
            {
                sum[e] += steps[s][e];
            }

            cv[s] = Cv(sum);
        }

        return cv;
    }

    /// <summary>
    /// The chart as a standalone SVG document: a heat map of each expert's share of its block's
    /// tokens over all steps, and each block's load CV per step (and over the steps so far).
    /// With no step recorded it says so instead. Long runs are drawn at most
    /// <see cref="MaxChartPoints"/> points a line, each the mean of consecutive steps.
    /// </summary>
    public string ToSvg(string title = "Expert load") => ExpertLoadChart.Render(this, title ?? string.Empty);

    /// <summary>Writes <see cref="ToSvg"/> to <paramref name="path"/> (UTF-8), creating its folder.</summary>
    public void WriteSvg(string path, string title = "Expert load")
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        File.WriteAllText(path, ToSvg(title));
    }

    private static double Cv(long[] load) => Balance.Cv(load.Select(n => (double)n).ToArray());

    private long[][] Snapshot(IReadOnlyList<MoeStatsAccumulator> cumulative)
    {
        ArgumentNullException.ThrowIfNull(cumulative);
        if (_names.Count == 0 && cumulative.Count > 0)
        {
            for (var b = 0; b < cumulative.Count; b++)
            {
                AddBlock($"block {b}");
            }
        }

        if (cumulative.Count != _names.Count)
        {
            throw new ArgumentException($"{cumulative.Count} accumulators for the {_names.Count} blocks of this history", nameof(cumulative));
        }

        return cumulative.Select((a, b) =>
        {
            ArgumentNullException.ThrowIfNull(a, $"{nameof(cumulative)}[{b}]");
            var totals = a.TokensPerExpert.ToArray();
            var last = _lastTotals?[b];
            if (last is { Length: > 0 } && totals.Length > 0 && last.Length != totals.Length)
            {
                throw new ArgumentException($"block '{_names[b]}' had {last.Length} experts at the last snapshot and has {totals.Length} now", nameof(cumulative));
            }

            return totals;
        }).ToArray();
    }

    private static void Check(string block, int experts, IReadOnlyList<long> tokensPerExpert)
    {
        if (tokensPerExpert.Count == 0)
        {
            throw new ArgumentException($"a step of block '{block}' has no experts", nameof(tokensPerExpert));
        }

        if (experts != 0 && tokensPerExpert.Count != experts)
        {
            throw new ArgumentException($"a step of {tokensPerExpert.Count} experts cannot follow block '{block}''s steps of {experts}", nameof(tokensPerExpert));
        }

        if (tokensPerExpert.Any(n => n < 0))
        {
            throw new ArgumentException($"a step of block '{block}' has a negative token count", nameof(tokensPerExpert));
        }
    }

    private int AddBlock(string name)
    {
        _index.Add(name, _names.Count);
        _names.Add(name);
        _steps.Add(new List<long[]>());
        return _names.Count - 1;
    }

    private int CheckBlock(int block) =>
        (uint)block < (uint)_names.Count ? block : throw new ArgumentOutOfRangeException(nameof(block), $"block {block} of {_names.Count}");
}
