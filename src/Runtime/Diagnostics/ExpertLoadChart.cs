using System;
using System.Collections.Generic;
using System.Linq;
using System.Xml.Linq;
using static Wudao.ChartScales;

namespace Wudao;

/// <summary>
/// Draws an <see cref="ExpertLoadHistory"/> as one standalone SVG: a heat map (block × expert,
/// colour = the expert's share of the block's tokens over all steps) with its colour legend, and
/// a line chart of each block's load CV per step (solid) and over the steps so far (dashed).
/// Built as XML elements, so names are escaped and the document is well formed by construction.
/// </summary>
internal static class ExpertLoadChart
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private const double Pad = 24;
    private const double CharWidth = 7; // about a 12 px sans-serif character: sizes the label margins
    private const int LabelChars = 36;
    private const double PlotHeight = 240;

    public static string Render(ExpertLoadHistory history, string title)
    {
        ArgumentNullException.ThrowIfNull(history);
        title = Clean(title ?? string.Empty);
        var root = history.Steps == 0 ? Empty(history, title) : Chart(history, title);
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root + "\n";
    }

    private static XElement Empty(ExpertLoadHistory history, string title)
    {
        var root = Document(Math.Max(520, TitleWidth(title)), 160, title); // headless Chromium clips pages much shorter than this
        root.Add(
            Heading(title),
            Text(Pad, 66, history.Blocks.Count == 0 ? "No expert load recorded yet." : $"No steps recorded yet for the {history.Blocks.Count} blocks.", 13, cls: "empty"),
            Text(Pad, 88, "Record a step after each call or training step, then write the chart.", 12, fill: "#555"));
        return root;
    }

    private static XElement Chart(ExpertLoadHistory history, string title)
    {
        var names = history.Blocks.Select(n => Clean(n)).ToArray();
        var labels = names.Select(n => Shorten(n, LabelChars)).ToArray();
        var labelWidth = Math.Clamp((labels.Max(l => l.Length) * CharWidth) + 8, 48, 260);
        var experts = Enumerable.Range(0, names.Length).Select(history.ExpertsOf).ToArray();
        var maxExperts = Math.Max(1, experts.Max());
        var cellW = Math.Clamp(Math.Floor(640.0 / maxExperts), 10, 48);
        var cellH = names.Length <= 16 ? 26 : Math.Clamp(Math.Floor(420.0 / names.Length), 8, 26);
        var heatLeft = Pad + labelWidth;
        var heatTop = 116.0;
        var heatBottom = heatTop + (names.Length * cellH);
        var barHeight = Math.Max(heatBottom - heatTop, 140);
        var heatWidth = heatLeft + (maxExperts * cellW) + 24 + 14 + 100;
        var lineLegendWidth = Math.Clamp((labels.Max(l => l.Length) * CharWidth) + 40, 120, 300);
        var width = Math.Ceiling(Math.Max(Math.Max(heatWidth + Pad, 820), TitleWidth(title)));
        var cvTop = Math.Max(heatBottom + 44, heatTop + barHeight + 30) + 28;
        var plot = (Left: Pad + 48, Top: cvTop + 24, Width: width - Pad - 48 - Pad - lineLegendWidth, Height: PlotHeight);
        var height = Math.Ceiling(Math.Max(plot.Top + plot.Height, plot.Top + (names.Length * 18)) + 48 + Pad);

        var root = Document(width, height, title);
        var steps = history.Steps;
        root.Add(
            Heading(title),
            Text(Pad, 56, $"{names.Length} block{(names.Length == 1 ? "" : "s")}, {steps} step{(steps == 1 ? "" : "s")}, up to {maxExperts} experts", 12, fill: "#555"),
            Text(Pad, heatTop - 32, "Share of each block's routed tokens per expert, over all steps", 13, "bold"));
        root.Add(HeatMap(history, names, labels, experts, heatLeft, heatTop, cellW, cellH));
        root.Add(ColourLegend(history, experts, heatLeft + (maxExperts * cellW) + 24, heatTop, barHeight));
        root.Add(CvChart(history, names, labels, plot, steps, cvTop));
        return root;
    }

    private static XElement HeatMap(ExpertLoadHistory history, string[] names, string[] labels, int[] experts, double left, double top, double cellW, double cellH)
    {
        var shares = history.Shares();
        var scaleTop = ShareScaleTop(shares);
        var g = new XElement(Svg + "g", new XAttribute("class", "heatmap"));
        for (var b = 0; b < names.Length; b++)
        {
            var y = top + (b * cellH);
            var label = Text(left - 6, y + (cellH / 2), labels[b], Math.Min(12, cellH), anchor: "end", cls: "block");
            label.Add(Title(names[b]));
            g.Add(label);
            var total = history.Total(b);
            var sum = total.Sum();
            for (var e = 0; e < experts[b]; e++)
            {
                var share = shares[b][e];
                var tip = sum == 0
                    ? $"{names[b]}, expert {e}: no tokens routed"
                    : $"{names[b]}, expert {e}: {Percent(share)} of the block's tokens ({total[e]} of {sum})";
                g.Add(new XElement(
                    Svg + "rect",
                    Attr("class", "cell"),
                    Attr("x", Num(left + (e * cellW))),
                    Attr("y", Num(y)),
                    Attr("width", Num(cellW)),
                    Attr("height", Num(cellH)),
                    Attr("fill", Sequential(share / scaleTop)),
                    Attr("stroke", "#ffffff"),
                    Attr("stroke-width", "1"),
                    Title(tip)));
            }
        }

        // Expert numbers under the columns: every one when they fit, else every k-th.
        var maxExperts = experts.Max();
        var every = new[] { 1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100 }.FirstOrDefault(k => k * cellW >= 22, 128);
        var bottom = top + (names.Length * cellH);
        for (var e = 0; e < maxExperts; e += every)
        {
            g.Add(Text(left + ((e + 0.5) * cellW), bottom + 14, Num(e, 0), 11, anchor: "middle", cls: "expert-tick"));
        }

        g.Add(Text(left + (maxExperts * cellW / 2), bottom + 32, "expert", 12, anchor: "middle", cls: "axis-title"));
        return g;
    }

    private static XElement ColourLegend(ExpertLoadHistory history, int[] experts, double x, double top, double height)
    {
        var scaleTop = ShareScaleTop(history.Shares());
        var gradient = new XElement(
            Svg + "linearGradient",
            Attr("id", "share-scale"),
            Attr("x1", "0"),
            Attr("y1", "1"),
            Attr("x2", "0"),
            Attr("y2", "0"));
        foreach (var (offset, colour) in ViridisStops())
        {
            gradient.Add(new XElement(Svg + "stop", Attr("offset", Num(offset, 4)), Attr("stop-color", colour)));
        }

        var g = new XElement(
            Svg + "g",
            Attr("class", "legend"),
            new XElement(Svg + "defs", gradient),
            new XElement(Svg + "rect", Attr("x", Num(x)), Attr("y", Num(top)), Attr("width", "14"), Attr("height", Num(height)), Attr("fill", "url(#share-scale)"), Attr("stroke", "#999")));
        var (_, ticks) = Nice(0, scaleTop, 4);
        foreach (var value in ticks.Where(v => v <= scaleTop + 1e-12))
        {
            var y = top + height - (value / scaleTop * height);
            g.Add(
                Line(x + 14, y, x + 18, y, "#333"),
                Text(x + 21, y, Percent(value), 11, cls: "legend-tick"));
        }

        // Where an even spread would sit: the reference every cell is judged against.
        if (experts.Where(n => n > 0).Distinct().Count() == 1)
        {
            var even = 1.0 / experts.First(n => n > 0);
            var y = top + height - (even / scaleTop * height);
            // Marked on the bar, named under it (beside the bar it would collide with the ticks).
            g.Add(
                Line(x - 3, y, x + 17, y, "#d62728", "2"),
                Line(x - 3, top + height + 18, x + 17, top + height + 18, "#d62728", "2"),
                Text(x + 21, top + height + 18, $"even {Percent(even)}", 11, fill: "#d62728", cls: "legend-even"));
        }

        g.Add(Text(x, top - 10, $"share (top {Percent(scaleTop)})", 11, cls: "legend-title"));
        return g;
    }

    private static XElement CvChart(ExpertLoadHistory history, string[] names, string[] labels, (double Left, double Top, double Width, double Height) plot, int steps, double headerY)
    {
        var bucket = (steps + ExpertLoadHistory.MaxChartPoints - 1) / ExpertLoadHistory.MaxChartPoints;
        var perStep = Enumerable.Range(0, names.Length).Select(b => Downsample(history.LoadCv(b), bucket)).ToArray();
        var soFar = Enumerable.Range(0, names.Length).Select(b => Downsample(history.CumulativeLoadCv(b), bucket)).ToArray();
        var cvMax = perStep.Concat(soFar).SelectMany(p => p).DefaultIfEmpty(0).Max();
        var (yTop, yTicks) = Nice(0, cvMax > 0 ? cvMax : 1, 5);
        double X(double step) => steps == 1 ? plot.Left + (plot.Width / 2) : plot.Left + (step / (steps - 1) * plot.Width);
        double Y(double cv) => plot.Top + plot.Height - (cv / yTop * plot.Height);

        var header = "Load CV (std/mean of tokens per expert; 0 = even): per step, solid; over the steps so far, dashed";
        var g = new XElement(Svg + "g", Attr("class", "cv-chart"), Text(Pad, headerY, header, 13, "bold"));
        if (bucket > 1)
        {
            g.Add(Text(Pad, headerY + 16, $"each point is the mean of {bucket} steps", 11, fill: "#555"));
        }

        g.Add(new XElement(Svg + "rect", Attr("class", "plot"), Attr("x", Num(plot.Left)), Attr("y", Num(plot.Top)), Attr("width", Num(plot.Width)), Attr("height", Num(plot.Height)), Attr("fill", "none"), Attr("stroke", "#999")));
        foreach (var v in yTicks)
        {
            var y = Y(v);
            g.Add(Line(plot.Left, y, plot.Left + plot.Width, y, "#e5e5e5"), Text(plot.Left - 6, y, Num(v, 3), 11, anchor: "end", cls: "y-tick"));
        }

        // Step numbers count from 1, as a user counts calls.
        var (_, xTicks) = Nice(1, Math.Max(2, steps), 8);
        foreach (var s in xTicks.Where(s => s >= 1 && s <= steps && s == Math.Floor(s)))
        {
            var x = X(s - 1);
            g.Add(Line(x, plot.Top + plot.Height, x, plot.Top + plot.Height + 4, "#333"), Text(x, plot.Top + plot.Height + 16, Num(s, 0), 11, anchor: "middle", cls: "x-tick"));
        }

        g.Add(
            Text(plot.Left + (plot.Width / 2), plot.Top + plot.Height + 34, "step", 12, anchor: "middle", cls: "axis-title"),
            Text(plot.Left - 36, plot.Top + (plot.Height / 2), "load CV", 12, anchor: "middle", cls: "axis-title", transform: $"rotate(-90 {Num(plot.Left - 36)} {Num(plot.Top + (plot.Height / 2))})"));

        for (var b = 0; b < names.Length; b++)
        {
            var colour = Categorical(b);
            var count = history.StepsOf(b);
            g.Add(Series(perStep[b], bucket, count, X, Y, colour, "cv-step", null, $"{names[b]}: load CV per step"));
            g.Add(Series(soFar[b], bucket, count, X, Y, colour, "cv-total", "5 3", $"{names[b]}: load CV over the steps so far"));
            if (perStep[b].Length <= 60)
            {
                for (var i = 0; i < perStep[b].Length; i++)
                {
                    g.Add(new XElement(Svg + "circle", Attr("class", "cv-point"), Attr("cx", Num(X(Centre(i, bucket, count)))), Attr("cy", Num(Y(perStep[b][i]))), Attr("r", "2.5"), Attr("fill", colour), Title($"{names[b]}, step {i + 1}: load CV {Num(perStep[b][i], 3)}")));
                }
            }

            var ly = plot.Top + 6 + (b * 18);
            var lx = plot.Left + plot.Width + 16;
            var entry = new XElement(Svg + "g", Attr("class", "line-legend"), Line(lx, ly, lx + 22, ly, colour, "2.5"), Text(lx + 28, ly, labels[b], 12));
            entry.Add(Title(names[b]));
            g.Add(entry);
        }

        return g;
    }

    private static XElement Series(double[] values, int bucket, int steps, Func<double, double> x, Func<double, double> y, string colour, string cls, string? dash, string tip)
    {
        var points = string.Join(' ', values.Select((v, i) => $"{Num(x(Centre(i, bucket, steps)))},{Num(y(v))}"));
        var line = new XElement(Svg + "polyline", Attr("class", cls), Attr("points", points), Attr("fill", "none"), Attr("stroke", colour), Attr("stroke-width", "1.75"), Attr("stroke-linejoin", "round"));
        if (dash != null)
        {
            line.Add(Attr("stroke-dasharray", dash));
        }

        line.Add(Title(tip));
        return line;
    }

    // Step index (0-based) a point stands for: the middle of the steps it averages (the last bucket may be short).
    private static double Centre(int point, int bucket, int steps)
    {
        var first = point * bucket;
        return (first + Math.Min(steps, first + bucket) - 1) / 2.0;
    }

    private static double[] Downsample(double[] values, int bucket) => bucket == 1
        ? values
        : values.Chunk(bucket).Select(c => c.Average()).ToArray();

    // The colour scale spans 0 to the largest share, so the whole of it is used.
    private static double ShareScaleTop(double[][] shares)
    {
        var max = shares.SelectMany(s => s).DefaultIfEmpty(0).Max();
        return max > 0 ? max : 1;
    }

    // A bold 18 px character is about 11 px wide: the page widens for a title up to this many.
    private const int TitleChars = 110;

    private static double TitleWidth(string title) => (Math.Min(title.Length, TitleChars) * 11) + (2 * Pad);

    private static XElement Heading(string title)
    {
        var heading = Text(Pad, 34, Shorten(title, TitleChars), 18, "bold");
        heading.Add(Title(title));
        return heading;
    }

    private static XElement Document(double width, double height, string title) => new(
        Svg + "svg",
        Attr("width", Num(width, 0)),
        Attr("height", Num(height, 0)),
        Attr("viewBox", $"0 0 {Num(width, 0)} {Num(height, 0)}"),
        Attr("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"),
        new XElement(Svg + "title", title),
        new XElement(Svg + "rect", Attr("width", "100%"), Attr("height", "100%"), Attr("fill", "#ffffff")));

    private static XElement Text(double x, double y, string text, double size, string? weight = null, string? anchor = null, string? fill = null, string? cls = null, string? transform = null)
    {
        var e = new XElement(Svg + "text", Attr("x", Num(x)), Attr("y", Num(y)), Attr("font-size", Num(size)), Attr("dominant-baseline", "middle"), text);
        Optional(e, "font-weight", weight);
        Optional(e, "text-anchor", anchor);
        Optional(e, "fill", fill);
        Optional(e, "class", cls);
        Optional(e, "transform", transform);
        return e;
    }

    private static XElement Line(double x1, double y1, double x2, double y2, string stroke, string width = "1") => new(
        Svg + "line", Attr("x1", Num(x1)), Attr("y1", Num(y1)), Attr("x2", Num(x2)), Attr("y2", Num(y2)), Attr("stroke", stroke), Attr("stroke-width", width));

    private static XElement Title(string text) => new(Svg + "title", text);

    private static XAttribute Attr(string name, string value) => new(name, value);

    private static void Optional(XElement e, string name, string? value)
    {
        if (value != null)
        {
            e.Add(Attr(name, value));
        }
    }
}
