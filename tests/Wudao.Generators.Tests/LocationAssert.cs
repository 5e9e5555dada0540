using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Wudao.Generators.Tests;

internal static class LocationAssert
{
    /// <summary>
    /// Asserts <paramref name="diagnostic"/> covers exactly <paramref name="expectedText"/> (which must occur once in
    /// <paramref name="source"/>), in the input file, starting at the right line and column.
    /// </summary>
    public static void At(Diagnostic diagnostic, string source, string expectedText, string path = GeneratorHarness.DefaultPath)
    {
        var index = source.IndexOf(expectedText, System.StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{expectedText}' is not in the source");
        Assert.True(index == source.LastIndexOf(expectedText, System.StringComparison.Ordinal), $"'{expectedText}' occurs more than once in the source");

        var location = diagnostic.Location;
        Assert.NotEqual(Location.None, location);
        var span = location.SourceSpan;
        Assert.Equal(expectedText, source.Substring(span.Start, span.Length));
        Assert.Equal(new TextSpan(index, expectedText.Length), span);

        var lineSpan = location.GetLineSpan();
        Assert.Equal(path, lineSpan.Path);
        Assert.Equal(SourceText.From(source).Lines.GetLinePositionSpan(span), lineSpan.Span);
    }
}
