using System.Globalization;

namespace Wudao.Tool;

/// <summary>Numbers as the reports print them: grouped digits, and bytes with a binary unit beside.</summary>
public static class Sizes
{
    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary><c>2,294,000 bytes (2.2 MiB)</c>: a size in a sentence.</summary>
    public static string BytesInWords(long bytes)
    {
        var text = Bytes(bytes);
        var unit = text.IndexOf(' ', System.StringComparison.Ordinal);
        return unit < 0 ? text + " bytes" : text.Insert(unit, " bytes");
    }

    /// <summary><c>262,144</c> for small sizes; <c>8,388,608 (8.0 MiB)</c> once a unit helps.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = { "KiB", "MiB", "GiB", "TiB" };
        if (bytes < 1024)
        {
            return Count(bytes);
        }

        double scaled = bytes;
        var unit = -1;
        while (scaled >= 1024 && unit < units.Length - 1)
        {
            scaled /= 1024;
            unit++;
        }

        return $"{Count(bytes)} ({scaled.ToString("0.0", CultureInfo.InvariantCulture)} {units[unit]})";
    }
}
