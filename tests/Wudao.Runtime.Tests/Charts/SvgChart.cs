using System;
using System.Globalization;
using System.Linq;
using System.Xml.Linq;

namespace Wudao.Runtime.Tests.Charts;

/// <summary>An expert-load SVG parsed back into what it draws, for tests to compare with values they compute.</summary>
internal sealed class SvgChart
{
    public static readonly XNamespace Ns = "http://www.w3.org/2000/svg";

    public SvgChart(string svg)
    {
        Document = XDocument.Parse(svg);
        Root = Document.Root!;
        Width = Number(Root, "width");
        Height = Number(Root, "height");
        Cells = ByClass("rect", "cell").Select(e => new Cell(
            Number(e, "x"), Number(e, "y"), Number(e, "width"), Number(e, "height"), Rgb((string)e.Attribute("fill")!), e.Element(Ns + "title")!.Value)).ToArray();
        BlockLabels = ByClass("text", "block").Select(e => e.Nodes().OfType<XText>().Single().Value).ToArray();
        StepLines = ByClass("polyline", "cv-step").Select(Points).ToArray();
        TotalLines = ByClass("polyline", "cv-total").Select(Points).ToArray();
        var plot = ByClass("rect", "plot").SingleOrDefault();
        Plot = plot == null ? default : (Number(plot, "x"), Number(plot, "y"), Number(plot, "width"), Number(plot, "height"));
        YTicks = ByClass("text", "y-tick").Select(e => (double.Parse(e.Value, CultureInfo.InvariantCulture), Number(e, "y"))).ToArray();
    }

    public XDocument Document { get; }

    public XElement Root { get; }

    public double Width { get; }

    public double Height { get; }

    public Cell[] Cells { get; }

    public string[] BlockLabels { get; }

    /// <summary>Each block's per-step CV line, as (x, y) points.</summary>
    public (double X, double Y)[][] StepLines { get; }

    /// <summary>Each block's CV-so-far line.</summary>
    public (double X, double Y)[][] TotalLines { get; }

    public (double X, double Y, double Width, double Height) Plot { get; }

    public (double Value, double Y)[] YTicks { get; }

    public XElement[] ByClass(string element, string cls) =>
        Root.Descendants(Ns + element).Where(e => (string?)e.Attribute("class") == cls).ToArray();

    public static double Number(XElement e, string attribute) =>
        double.Parse((string?)e.Attribute(attribute) ?? throw new InvalidOperationException($"<{e.Name.LocalName}> has no {attribute}"), NumberStyles.Float, CultureInfo.InvariantCulture);

    public static (byte R, byte G, byte B) Rgb(string hex)
    {
        if (hex.Length != 7 || hex[0] != '#')
        {
            throw new FormatException($"'{hex}' is not a #rrggbb colour");
        }

        var v = Convert.ToInt32(hex[1..], 16);
        return ((byte)(v >> 16), (byte)(v >> 8), (byte)v);
    }

    private static (double X, double Y)[] Points(XElement polyline) =>
        ((string)polyline.Attribute("points")!).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p =>
        {
            var xy = p.Split(',');
            return (double.Parse(xy[0], CultureInfo.InvariantCulture), double.Parse(xy[1], CultureInfo.InvariantCulture));
        }).ToArray();

    public sealed record Cell(double X, double Y, double Width, double Height, (byte R, byte G, byte B) Fill, string Title)
    {
        public int Lightness => Fill.R + Fill.G + Fill.B;
    }
}
