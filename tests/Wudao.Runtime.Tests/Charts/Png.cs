using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;

namespace Wudao.Runtime.Tests.Charts;

/// <summary>
/// A decoded 8-bit RGB or RGBA PNG (what Chromium's screenshots are): enough of the format to
/// read back what a renderer drew, with no image library.
/// </summary>
internal sealed class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private Png(int width, int height, byte[] rgb)
    {
        Width = width;
        Height = height;
        Rgb = rgb;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Pixels, row by row, three bytes each (alpha composited onto white).</summary>
    public byte[] Rgb { get; }

    public (byte R, byte G, byte B) Pixel(int x, int y)
    {
        var i = ((y * Width) + x) * 3;
        return (Rgb[i], Rgb[i + 1], Rgb[i + 2]);
    }

    /// <summary>Each distinct colour with how many pixels have it.</summary>
    public Dictionary<int, int> Histogram()
    {
        var counts = new Dictionary<int, int>();
        for (var i = 0; i < Rgb.Length; i += 3)
        {
            var key = (Rgb[i] << 16) | (Rgb[i + 1] << 8) | Rgb[i + 2];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return counts;
    }

    public static Png Decode(byte[] file)
    {
        if (file.Length < Signature.Length || !file.AsSpan(0, Signature.Length).SequenceEqual(Signature))
        {
            throw new InvalidDataException("not a PNG: the signature is missing");
        }

        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        var at = Signature.Length;
        while (at + 8 <= file.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            var type = Encoding.ASCII.GetString(file, at + 4, 4);
            var data = file.AsSpan(at + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    var (depth, colour, interlace) = (data[8], data[9], data[12]);
                    if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0)
                    {
                        throw new InvalidDataException($"unsupported PNG: bit depth {depth}, colour type {colour}, interlace {interlace}");
                    }

                    channels = colour == 6 ? 4 : 3;
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    return new Png(width, height, Unfilter(idat.ToArray(), width, height, channels));
            }

            at += 12 + length; // length, type, data, CRC
        }

        throw new InvalidDataException("the PNG ends before IEND");
    }

    private static byte[] Unfilter(byte[] compressed, int width, int height, int channels)
    {
        if (channels == 0)
        {
            throw new InvalidDataException("IDAT before IHDR");
        }

        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress))
        {
            z.CopyTo(inflated);
        }

        var raw = inflated.ToArray();
        var stride = width * channels;
        if (raw.Length != height * (stride + 1))
        {
            throw new InvalidDataException($"IDAT holds {raw.Length} bytes; {width}x{height}x{channels} needs {height * (stride + 1)}");
        }

        var pixels = new byte[height * stride];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            for (var i = 0; i < stride; i++)
            {
                int x = raw[(y * (stride + 1)) + 1 + i];
                int a = i >= channels ? pixels[(y * stride) + i - channels] : 0;
                int b = y > 0 ? pixels[((y - 1) * stride) + i] : 0;
                int c = i >= channels && y > 0 ? pixels[((y - 1) * stride) + i - channels] : 0;
                pixels[(y * stride) + i] = (byte)(filter switch
                {
                    0 => x,
                    1 => x + a,
                    2 => x + b,
                    3 => x + ((a + b) / 2),
                    4 => x + Paeth(a, b, c),
                    _ => throw new InvalidDataException($"row {y} has filter type {filter}"),
                });
            }
        }

        return channels == 3 ? pixels : Flatten(pixels);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var (pa, pb, pc) = (Math.Abs(p - a), Math.Abs(p - b), Math.Abs(p - c));
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    // RGBA over white, as a browser would show the image.
    private static byte[] Flatten(byte[] rgba)
    {
        var rgb = new byte[rgba.Length / 4 * 3];
        for (int i = 0, o = 0; i < rgba.Length; i += 4, o += 3)
        {
            var alpha = rgba[i + 3];
            for (var k = 0; k < 3; k++)
            {
                rgb[o + k] = (byte)(((rgba[i + k] * alpha) + (255 * (255 - alpha)) + 127) / 255);
            }
        }

        return rgb;
    }

    public static IEnumerable<string> Chunks(byte[] file)
    {
        for (var at = Signature.Length; at + 8 <= file.Length; at += 12 + BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at)))
        {
            yield return Encoding.ASCII.GetString(file, at + 4, 4);
        }
    }
}
