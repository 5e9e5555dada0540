using System;

namespace Wudao.Attention;

/// <summary>Rotate-half RoPE for one token: the angles once, then every head's row turned by them.</summary>
internal static class Rope
{
    /// <summary>cos and sin of position · invFreq[i], angle in fp32 as HF Llama computes it.</summary>
    public static void Angles(float[] inverseFrequencies, int position, Span<float> cos, Span<float> sin)
    {
        for (var i = 0; i < inverseFrequencies.Length; i++)
        {
            (sin[i], cos[i]) = MathF.SinCos(position * inverseFrequencies[i]);
        }
    }

    /// <summary>
    /// destination = scale · rotate(source): pairs (i, i + d/2) become
    /// (x_i cos − x_{i+d/2} sin, x_{i+d/2} cos + x_i sin).
    /// </summary>
    public static void Rotate(ReadOnlySpan<float> source, Span<float> destination, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, float scale)
    {
        var half = cos.Length;
        for (var i = 0; i < half; i++)
        {
            var a = source[i];
            var b = source[i + half];
            destination[i] = ((a * cos[i]) - (b * sin[i])) * scale;
            destination[i + half] = ((b * cos[i]) + (a * sin[i])) * scale;
        }
    }
}
