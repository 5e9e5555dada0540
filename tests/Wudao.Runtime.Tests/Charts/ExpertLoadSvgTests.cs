using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using Xunit;
using static Wudao.Runtime.Tests.Charts.ExpertLoadHistoryTests;

namespace Wudao.Runtime.Tests.Charts;

/// <summary>The expert-load SVG, parsed back and compared with shares and CVs computed here.</summary>
public sealed class ExpertLoadSvgTests
{
    // Three blocks of five experts over four steps; each block's total is hand-summed below.
    internal static readonly long[][][] Steps =
    [
        [[10, 0, 5, 5, 0], [4, 4, 4, 4, 4], [0, 0, 0, 0, 20]],
        [[8, 2, 5, 5, 0], [4, 4, 4, 4, 4], [0, 0, 0, 5, 15]],
        [[6, 4, 5, 5, 0], [5, 3, 4, 4, 4], [0, 0, 5, 5, 10]],
        [[4, 6, 5, 5, 0], [3, 5, 4, 4, 4], [0, 5, 5, 5, 5]],
    ];

    internal static readonly string[] Names = ["layers.1.moe", "layers.3.moe", "a <b> & \"c\""];

    internal static ExpertLoadHistory ThreeBlocks()
    {
        var history = new ExpertLoadHistory(Names);
        foreach (var step in Steps)
        {
            for (var b = 0; b < Names.Length; b++)
            {
                history.Record(Names[b], step[b]);
            }
        }

        return history;
    }

    [Fact]
    public void The_document_is_standalone_svg_with_its_size_and_title()
    {
        var svg = ThreeBlocks().ToSvg("load of <tiny> & co");
        var chart = new SvgChart(svg);

        Assert.StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", svg, StringComparison.Ordinal);
        Assert.Equal(SvgChart.Ns + "svg", chart.Root.Name);
        Assert.Equal($"0 0 {chart.Width} {chart.Height}", (string)chart.Root.Attribute("viewBox")!);
        Assert.InRange(chart.Width, 800, 2000);
        Assert.Equal("load of <tiny> & co", chart.Root.Element(SvgChart.Ns + "title")!.Value);
        Assert.Contains("load of &lt;tiny&gt; &amp; co", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void The_heat_map_has_a_cell_per_block_and_expert_coloured_and_labelled_by_share()
    {
        var chart = new SvgChart(ThreeBlocks().ToSvg());
        long[][] totals = [[28, 12, 20, 20, 0], [16, 16, 16, 16, 16], [0, 5, 10, 15, 50]];

        Assert.Equal(Names, chart.BlockLabels);
        Assert.Equal(15, chart.Cells.Length);
        var tip = new Regex(@"^(?<block>.+), expert (?<e>\d+): (?<pct>[\d.]+)% of the block's tokens \((?<n>\d+) of (?<sum>\d+)\)$");
        for (var b = 0; b < 3; b++)
        {
            var row = chart.Cells.Skip(b * 5).Take(5).ToArray();
            for (var e = 0; e < 5; e++)
            {
                var m = tip.Match(row[e].Title);
                Assert.True(m.Success, row[e].Title);
                Assert.Equal(Names[b], m.Groups["block"].Value);
                Assert.Equal(e, int.Parse(m.Groups["e"].Value, CultureInfo.InvariantCulture));
                Assert.Equal(totals[b][e], long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture));
                Assert.Equal(totals[b].Sum(), long.Parse(m.Groups["sum"].Value, CultureInfo.InvariantCulture));
                Assert.Equal(100.0 * totals[b][e] / totals[b].Sum(), double.Parse(m.Groups["pct"].Value, CultureInfo.InvariantCulture), 0.051);
                if (e > 0)
                {
                    Assert.Equal(row[e - 1].X + row[e - 1].Width, row[e].X, 6);
                    Assert.Equal(row[0].Y, row[e].Y);
                }
            }

            Assert.True(b == 0 || row[0].Y > chart.Cells[(b - 1) * 5].Y, "blocks go down the page in order");
        }

        // A lighter cell means a larger share: compare every pair of cells whose shares differ.
        var shares = totals.SelectMany(t => t.Select(n => (double)n / t.Sum())).ToArray();
        for (var i = 0; i < shares.Length; i++)
        {
            for (var j = 0; j < shares.Length; j++)
            {
                if (shares[i] > shares[j] + 1e-9)
                {
                    Assert.True(chart.Cells[i].Lightness > chart.Cells[j].Lightness, $"cell {i} (share {shares[i]:F3}) is not lighter than cell {j} (share {shares[j]:F3})");
                }
                else if (Math.Abs(shares[i] - shares[j]) < 1e-12)
                {
                    Assert.Equal(chart.Cells[i].Fill, chart.Cells[j].Fill);
                }
            }
        }
    }

    [Fact]
    public void The_colour_legend_gives_the_scale_in_percent_and_marks_an_even_spread()
    {
        var chart = new SvgChart(ThreeBlocks().ToSvg());
        var ticks = chart.ByClass("text", "legend-tick").Select(e => e.Value).ToArray();

        // The scale runs from 0 to the largest share, 50 / 80 = 62.5 %, ticked at round values.
        Assert.Equal(["0%", "20%", "40%", "60%"], ticks);
        Assert.Equal("share (top 62.5%)", chart.ByClass("text", "legend-title").Single().Value);
        Assert.Equal(chart.Cells.MaxBy(c => c.Lightness)!.Fill, SvgChart.Rgb("#fde725")); // the top of viridis
        Assert.Equal("even 20%", chart.ByClass("text", "legend-even").Single().Value);
        Assert.Single(chart.ByClass("text", "axis-title"), e => e.Value == "expert");
    }

    [Fact]
    public void Cv_lines_have_a_point_per_step_at_heights_proportional_to_the_cv()
    {
        var chart = new SvgChart(ThreeBlocks().ToSvg());
        var (left, top, width, height) = chart.Plot;
        var bottom = top + height;
        Assert.Equal(3, chart.StepLines.Length);
        Assert.Equal(3, chart.TotalLines.Length);

        // One scale for all: pixels per unit of CV, from the y-axis ticks.
        var tick0 = chart.YTicks.Single(t => t.Value == 0);
        var tickTop = chart.YTicks.MaxBy(t => t.Value);
        Assert.Equal(bottom, tick0.Y, tolerance: 0.011);
        Assert.Equal(top, tickTop.Y, tolerance: 0.011);
        var perUnit = height / tickTop.Value;
        var maxCv = Steps.SelectMany(s => s).Max(l => Cv(l));
        Assert.InRange(tickTop.Value, maxCv, maxCv * 2);

        for (var b = 0; b < 3; b++)
        {
            var line = chart.StepLines[b];
            var running = new long[5];
            Assert.Equal(Steps.Length, line.Length);
            Assert.Equal(Steps.Length, chart.TotalLines[b].Length);
            for (var s = 0; s < Steps.Length; s++)
            {
                Assert.Equal(left + (s * width / (Steps.Length - 1)), line[s].X, tolerance: 0.011);
                Assert.Equal(bottom - (Cv(Steps[s][b]) * perUnit), line[s].Y, tolerance: 0.011);
                Assert.InRange(line[s].Y, top, bottom);
                for (var e = 0; e < 5; e++)
                {
                    running[e] += Steps[s][b][e];
                }

                Assert.Equal(bottom - (Cv(running) * perUnit), chart.TotalLines[b][s].Y, tolerance: 0.011);
            }
        }

        Assert.Equal(bottom, chart.StepLines[1][0].Y, tolerance: 0.011); // an even step sits on the axis

        // Step numbers count from 1, whole, each under its points.
        var xTicks = chart.ByClass("text", "x-tick");
        Assert.Equal(["1", "2", "3", "4"], xTicks.Select(t => t.Value));
        Assert.All(xTicks.Select((t, s) => (t, s)), p => Assert.Equal(chart.StepLines[0][p.s].X, SvgChart.Number(p.t, "x"), tolerance: 0.011));
    }

    [Fact]
    public void Block_names_are_escaped_and_characters_xml_cannot_hold_are_replaced()
    {
        var history = new ExpertLoadHistory();
        history.Record("a<b&c>\u0001\"", [1, 2]);
        var svg = history.ToSvg("t\u0007itle");
        var chart = new SvgChart(svg);

        Assert.Equal("a<b&c>\uFFFD\"", chart.BlockLabels.Single());
        Assert.Contains("a&lt;b&amp;c&gt;", svg, StringComparison.Ordinal);
        Assert.Equal("t\uFFFDitle", chart.Root.Element(SvgChart.Ns + "title")!.Value);
    }

    [Fact]
    public void With_no_steps_the_chart_says_so()
    {
        var empty = new SvgChart(new ExpertLoadHistory().ToSvg());
        var declared = new SvgChart(new ExpertLoadHistory(["x", "y"]).ToSvg());

        Assert.Empty(empty.Cells);
        Assert.Equal("No expert load recorded yet.", empty.ByClass("text", "empty").Single().Value);
        Assert.Equal("No steps recorded yet for the 2 blocks.", declared.ByClass("text", "empty").Single().Value);
    }

    [Fact]
    public void One_step_is_one_marked_point_in_the_middle_of_the_plot()
    {
        var history = new ExpertLoadHistory();
        history.Record("only", [3, 1]);
        var chart = new SvgChart(history.ToSvg());

        var point = Assert.Single(chart.StepLines.Single());
        Assert.Equal(chart.Plot.X + (chart.Plot.Width / 2), point.X, tolerance: 0.011);
        Assert.Single(chart.ByClass("circle", "cv-point"));
        Assert.Equal(2, chart.Cells.Length);
    }

    [Fact]
    public void Blocks_of_different_sizes_and_a_block_without_steps_still_draw()
    {
        var history = new ExpertLoadHistory(["four", "idle", "eight"]);
        history.Record("four", [1, 2, 3, 4]);
        history.Record("eight", [1, 1, 1, 1, 1, 1, 1, 9]);
        var chart = new SvgChart(history.ToSvg());

        Assert.Equal(["four", "idle", "eight"], chart.BlockLabels);
        Assert.Equal(12, chart.Cells.Length);
        Assert.Equal([1, 0, 1], chart.StepLines.Select(l => l.Length));
        Assert.Empty(chart.ByClass("text", "legend-even")); // no one even share to mark
    }

    [Fact]
    public void Sixty_four_experts_over_a_thousand_steps_keep_every_step_in_a_modest_file()
    {
        var history = Random(blocks: 4, experts: 64, steps: 1000);
        var svg = history.ToSvg();
        var chart = new SvgChart(svg);

        Assert.Equal(4 * 64, chart.Cells.Length);
        Assert.All(chart.StepLines, l => Assert.Equal(1000, l.Length));
        Assert.Empty(chart.ByClass("circle", "cv-point"));
        Assert.True(chart.Cells.All(c => c.Width >= 10), "cells stay at least 10 px wide");
        Assert.True(chart.Cells.Max(c => c.X + c.Width) < chart.Width, "the heat map fits the page");
        Assert.InRange(svg.Length, 1, 400_000);
    }

    [Fact]
    public void Longer_runs_draw_each_point_as_the_mean_of_consecutive_steps()
    {
        var history = Random(blocks: 1, experts: 8, steps: 2500);
        var chart = new SvgChart(history.ToSvg());
        var cv = history.LoadCv(0);
        var perUnit = chart.Plot.Height / chart.YTicks.Max(t => t.Value);

        var line = chart.StepLines.Single();
        Assert.Equal(834, line.Length); // buckets of 3 steps; the last holds one
        Assert.Equal(chart.Plot.Y + chart.Plot.Height - ((cv[0] + cv[1] + cv[2]) / 3 * perUnit), line[0].Y, tolerance: 0.011);
        Assert.Equal(chart.Plot.Y + chart.Plot.Height - (cv[2499] * perUnit), line[^1].Y, tolerance: 0.011);
        Assert.Equal(chart.Plot.X + chart.Plot.Width, line[^1].X, tolerance: 0.011);
        Assert.Contains(chart.Root.Descendants(SvgChart.Ns + "text"), t => t.Value == "each point is the mean of 3 steps");
    }

    [Fact]
    public void Numbers_are_written_the_same_under_any_culture()
    {
        var before = Thread.CurrentThread.CurrentCulture;
        string invariant, german;
        try
        {
            Thread.CurrentThread.CurrentCulture = CultureInfo.InvariantCulture;
            invariant = ThreeBlocks().ToSvg();
            Thread.CurrentThread.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
            Assert.Equal("1,5", 1.5.ToString(CultureInfo.CurrentCulture)); // the culture really differs
            german = ThreeBlocks().ToSvg();
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = before;
        }

        Assert.Equal(invariant, german);
    }

    [Fact]
    public void WriteSvg_writes_the_same_document_creating_its_folder()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"wudao-chart-{Guid.NewGuid():N}");
        try
        {
            var path = Path.Combine(folder, "sub", "load.svg");
            var history = ThreeBlocks();
            history.WriteSvg(path, "x");

            Assert.Equal(history.ToSvg("x"), File.ReadAllText(path));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    internal static ExpertLoadHistory Random(int blocks, int experts, int steps)
    {
        var rng = new Random(5);
        var history = new ExpertLoadHistory();
        for (var s = 0; s < steps; s++)
        {
            for (var b = 0; b < blocks; b++)
            {
                history.Record($"block {b}", Enumerable.Range(0, experts).Select(e => (long)rng.Next(0, 10 + (e * b))).ToArray());
            }
        }

        return history;
    }
}
