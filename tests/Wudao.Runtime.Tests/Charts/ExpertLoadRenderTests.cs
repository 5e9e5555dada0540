using System;
using System.Diagnostics;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Charts;

/// <summary>
/// The expert-load SVG as a browser shows it: rendered headless by Chromium to a PNG, decoded
/// here, and checked for its size and for the heat map's and lines' colours. Skipped, with the
/// reason, where no Chromium is on PATH; .ci/run installs it so CI always runs this.
/// </summary>
public sealed class ExpertLoadRenderTests
{
    private static readonly TimeSpan RenderTimeout = TimeSpan.FromSeconds(60);
    private static readonly string? Chromium = FindOnPath("chromium") ?? FindOnPath("chromium-browser");

    [SkippableFact]
    public void Chromium_renders_the_chart_with_the_heat_map_and_lines_visible()
    {
        Skip.If(Chromium is null, "Chromium is not installed: chromium is not on PATH (apt-get install chromium; .ci/run installs it)");
        var folder = Path.Combine(Path.GetTempPath(), $"wudao-render-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            var svgPath = Path.Combine(folder, "load.svg");
            var pngPath = Path.Combine(folder, "load.png");
            var history = ExpertLoadSvgTests.ThreeBlocks();
            history.WriteSvg(svgPath, "expert load");
            var chart = new SvgChart(File.ReadAllText(svgPath));
            var (width, height) = ((int)chart.Width, (int)chart.Height);

            var (exitCode, output) = Render(svgPath, pngPath, width, height, Path.Combine(folder, "profile"));

            Assert.True(exitCode == 0 && File.Exists(pngPath), $"chromium exited with {exitCode} and wrote {(File.Exists(pngPath) ? "" : "no ")}PNG:\n{output}");
            var file = File.ReadAllBytes(pngPath);
            Assert.Equal("IHDR", Png.Chunks(file).First());
            var png = Png.Decode(file);
            Assert.Equal((width, height), (png.Width, png.Height));

            // A renderer that drew nothing (or only the background) fails here.
            var histogram = png.Histogram();
            Assert.True(histogram.Count >= 50, $"only {histogram.Count} distinct colours: the chart did not render");
            var white = histogram.GetValueOrDefault(0xFFFFFF);
            Assert.True(white < png.Width * png.Height * 0.95, $"{white} of {png.Width * png.Height} pixels are white");

            // Every distinct cell colour is drawn, filling the middle of its cell.
            foreach (var cell in chart.Cells.DistinctBy(c => c.Fill))
            {
                Assert.Equal(cell.Fill, png.Pixel((int)(cell.X + (cell.Width / 2)), (int)(cell.Y + (cell.Height / 2))));
                Assert.True(histogram.GetValueOrDefault((cell.Fill.R << 16) | (cell.Fill.G << 8) | cell.Fill.B) >= (cell.Width - 2) * (cell.Height - 2), $"too few pixels of {cell.Title}'s colour");
            }

            // Each block's line colour appears inside the plot.
            foreach (var colour in chart.ByClass("polyline", "cv-step").Select(p => SvgChart.Rgb((string)p.Attribute("stroke")!)).Distinct())
            {
                Assert.True(CountIn(png, chart.Plot, colour) >= 20, $"the line colour {colour} is (nearly) absent from the plot");
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static int CountIn(Png png, (double X, double Y, double Width, double Height) area, (byte R, byte G, byte B) colour)
    {
        var n = 0;
        for (var y = (int)area.Y + 1; y < (int)(area.Y + area.Height); y++)
        {
            for (var x = (int)area.X + 1; x < (int)(area.X + area.Width); x++)
            {
                n += png.Pixel(x, y) == colour ? 1 : 0;
            }
        }

        return n;
    }

    /// <summary>Headless Chromium's screenshot of <paramref name="svg"/>; its own profile folder, so it never meets a running browser.</summary>
    private static (int ExitCode, string Output) Render(string svg, string png, int width, int height, string profile)
    {
        var start = new ProcessStartInfo(Chromium!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
            "--force-device-scale-factor=1", $"--user-data-dir={profile}", $"--screenshot={png}",
            string.Create(CultureInfo.InvariantCulture, $"--window-size={width},{height}"), new Uri(svg).AbsoluteUri,
        })
        {
            start.ArgumentList.Add(arg);
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(RenderTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"chromium did not finish within {RenderTimeout}:\n{output}");
        }

        process.WaitForExit(); // drain the redirected output
        return (process.ExitCode, output.ToString());
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
