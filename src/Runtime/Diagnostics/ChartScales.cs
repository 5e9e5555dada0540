using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Xml;

namespace Wudao;

/// <summary>Colour scales, axis ticks and number text for the SVG charts.</summary>
internal static class ChartScales
{
    // Viridis sampled at i/8: perceptually even and readable in grey and by colour-blind readers.
    // R+G+B rises from each stop to the next, so a lighter cell always means a larger value.
    private static readonly (byte R, byte G, byte B)[] Viridis =
    [
        (0x44, 0x01, 0x54), (0x47, 0x2d, 0x7b), (0x3b, 0x52, 0x8b), (0x2c, 0x72, 0x8e), (0x21, 0x91, 0x8c),
        (0x28, 0xae, 0x80), (0x5e, 0xc9, 0x62), (0xad, 0xdc, 0x30), (0xfd, 0xe7, 0x25),
    ];

    // Tableau 10: distinct line colours for up to ten blocks (then they repeat).
    private static readonly string[] Lines =
    [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    ];

    /// <summary>The viridis stops, bottom to top, as hex colours (for a legend's gradient).</summary>
    public static IEnumerable<(double Offset, string Colour)> ViridisStops()
    {
        for (var i = 0; i < Viridis.Length; i++)
        {
            yield return ((double)i / (Viridis.Length - 1), Hex(Viridis[i]));
        }
    }

    /// <summary>The colour of <paramref name="t"/> in [0, 1] (clamped) on the viridis scale.</summary>
    public static string Sequential(double t)
    {
        t = double.IsNaN(t) ? 0 : Math.Clamp(t, 0, 1);
        var x = t * (Viridis.Length - 1);
        var i = Math.Min((int)x, Viridis.Length - 2);
        var f = x - i;
        var (a, b) = (Viridis[i], Viridis[i + 1]);
        return Hex((Mix(a.R, b.R, f), Mix(a.G, b.G, f), Mix(a.B, b.B, f)));
    }

    /// <summary>Line colour of series <paramref name="index"/>.</summary>
    public static string Categorical(int index) => Lines[index % Lines.Length];

    /// <summary>
    /// Round tick values from 0 (or <paramref name="min"/>) to a round top at or above
    /// <paramref name="max"/>, about <paramref name="count"/> of them, steps of 1, 2 or 5 × 10^k.
    /// </summary>
    public static (double Top, double[] Ticks) Nice(double min, double max, int count)
    {
        if (!(max > min))
        {
            max = min + 1;
        }

        var raw = (max - min) / Math.Max(1, count);
        var power = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var step = power * (raw / power <= 1 ? 1 : raw / power <= 2 ? 2 : raw / power <= 5 ? 5 : 10);
        var first = Math.Ceiling((min / step) - 1e-9) * step;
        var top = Math.Ceiling((max / step) - 1e-9) * step;
        var ticks = new List<double>();
        for (var v = first; v <= top + (step * 1e-6); v += step)
        {
            var tick = Math.Round(v / step) * step;
            ticks.Add(tick == 0 ? 0 : tick); // never -0, which would print as "-0"
        }

        return (top, ticks.ToArray());
    }

    /// <summary>A coordinate or value with at most <paramref name="decimals"/> decimals, invariant culture.</summary>
    public static string Num(double value, int decimals = 2) =>
        Math.Round(value, decimals).ToString(decimals switch { 0 => "0", 1 => "0.#", 2 => "0.##", 3 => "0.###", _ => "0.####" }, CultureInfo.InvariantCulture);

    /// <summary>A share as a percentage: "12.5%".</summary>
    public static string Percent(double share) => (share * 100).ToString(share >= 0.1 ? "0.#" : "0.##", CultureInfo.InvariantCulture) + "%";

    /// <summary>Text safe for XML: characters XML cannot hold (control characters, lone surrogates) become U+FFFD.</summary>
    public static string Clean(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[++i]);
            }
            else
            {
                sb.Append(XmlConvert.IsXmlChar(c) ? c : '\uFFFD');
            }
        }

        return sb.ToString();
    }

    /// <summary><paramref name="text"/> cut to <paramref name="max"/> characters, an ellipsis marking the cut.</summary>
    public static string Shorten(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        var keep = char.IsHighSurrogate(text[max - 2]) ? max - 2 : max - 1; // never split a surrogate pair
        return string.Concat(text.AsSpan(0, keep), "…");
    }

    private static byte Mix(byte a, byte b, double f) => (byte)Math.Round(a + ((b - a) * f));

    private static string Hex((byte R, byte G, byte B) c) => $"#{c.R:x2}{c.G:x2}{c.B:x2}";
}
