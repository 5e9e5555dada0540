using System.Globalization;
using System.Text.Json.Nodes;

namespace Wudao.GpuRunner.Report;

/// <summary>
/// One measured line of the results table; torch_moe.py writes the same fields. Rows of one
/// <see cref="Benchmark"/> measure the same work, so their times compare (Wudao ÷ PyTorch).
/// </summary>
/// <param name="Group">moe, moe-stage, attention, decode or memory.</param>
/// <param name="Benchmark">What was run, shapes included; the key Wudao and PyTorch rows share.</param>
/// <param name="Implementation">Who ran it: "Wudao (Cuda)", "PyTorch eager (cuda)", ...</param>
/// <param name="Measure">What of it was timed: "whole layer", "gate + dispatch + combine", "expert FFN", ...</param>
/// <param name="MedianMs">Median milliseconds per call.</param>
/// <param name="MinMs">Fastest call, milliseconds.</param>
/// <param name="Runs">Timed runs the median is of.</param>
/// <param name="Rate">The rate the work ran at, in <paramref name="Unit"/>.</param>
/// <param name="Unit">TFLOP/s, GB/s, tokens/s.</param>
/// <param name="Fraction">Rate over the ceiling named in <paramref name="Of"/>.</param>
/// <param name="Of">The ceiling, with where it comes from (datasheet or measured).</param>
/// <param name="MaxAbsDiff">Largest |difference| from Wudao's output on the same inputs (peer rows).</param>
/// <param name="Note">Anything else a reader needs: stage times, host synchronisations.</param>
public sealed record ResultRow(
    string Group,
    string Benchmark,
    string Implementation,
    string Measure,
    double MedianMs,
    double MinMs,
    int Runs,
    double? Rate = null,
    string? Unit = null,
    double? Fraction = null,
    string? Of = null,
    double? MaxAbsDiff = null,
    string? Note = null)
{
    public JsonObject ToJson() => new()
    {
        ["group"] = Group,
        ["benchmark"] = Benchmark,
        ["implementation"] = Implementation,
        ["measure"] = Measure,
        ["median_ms"] = MedianMs,
        ["min_ms"] = MinMs,
        ["runs"] = Runs,
        ["rate"] = Rate,
        ["unit"] = Unit,
        ["fraction"] = Fraction,
        ["of"] = Of,
        ["max_abs_diff"] = MaxAbsDiff,
        ["note"] = Note,
    };

    public static ResultRow FromJson(JsonNode node) => new(
        (string?)node["group"] ?? "",
        (string?)node["benchmark"] ?? "",
        (string?)node["implementation"] ?? "",
        (string?)node["measure"] ?? "",
        (double?)node["median_ms"] ?? double.NaN,
        (double?)node["min_ms"] ?? double.NaN,
        (int?)node["runs"] ?? 0,
        (double?)node["rate"],
        (string?)node["unit"],
        (double?)node["fraction"],
        (string?)node["of"],
        (double?)node["max_abs_diff"],
        (string?)node["note"]);

    /// <summary>A number for the table: three significant digits, invariant culture.</summary>
    public static string Number(double? value) => value switch
    {
        null => "",
        double v when double.IsNaN(v) => "",
        double v when v != 0 && (System.Math.Abs(v) >= 1e5 || System.Math.Abs(v) < 1e-3) => v.ToString("0.00e0", CultureInfo.InvariantCulture),
        double v when System.Math.Abs(v) >= 100 => v.ToString("0", CultureInfo.InvariantCulture),
        double v when System.Math.Abs(v) >= 10 => v.ToString("0.0", CultureInfo.InvariantCulture),
        double v => v.ToString("0.00#", CultureInfo.InvariantCulture),
    };
}
