using System;
using System.Linq;

namespace Wudao.Runtime.Tests;

/// <summary>Random q, k, v for a packed batch, and the outputs the kernels write into.</summary>
public sealed class AttentionCase
{
    public AttentionCase(int heads, int kvHeads, int dim, int[] lengths, int seed)
    {
        Heads = heads;
        KvHeads = kvHeads;
        Dim = dim;
        Offsets = new int[lengths.Length + 1];
        for (var b = 0; b < lengths.Length; b++)
        {
            Offsets[b + 1] = Offsets[b] + lengths[b];
        }

        Q = Numerics.RandomInputs(Tokens * heads * dim, seed);
        K = Numerics.RandomInputs(Tokens * kvHeads * dim, seed + 1);
        V = Numerics.RandomInputs(Tokens * kvHeads * dim, seed + 2);
        Output = new float[Q.Length];
        Lse = new float[Tokens * heads];
    }

    public int Heads { get; }

    public int KvHeads { get; }

    public int Dim { get; }

    public int[] Offsets { get; }

    public int Tokens => Offsets[^1];

    public float[] Q { get; }

    public float[] K { get; }

    public float[] V { get; }

    public float[] Output { get; }

    public float[] Lse { get; }

    public static string Describe(int[] lengths) => "[" + string.Join(",", lengths.Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    /// <summary>Rows [from, to) of a [T, heads, width] tensor.</summary>
    public static float[] Rows(float[] x, int from, int to, int heads, int width) =>
        x.AsSpan(from * heads * width, (to - from) * heads * width).ToArray();

    public static float[] Concat(float[] a, float[] b) => a.Concat(b).ToArray();

    /// <summary>seqOffsets for sequences of these lengths.</summary>
    public static int[] OffsetsOf(int[] lengths)
    {
        var offsets = new int[lengths.Length + 1];
        for (var b = 0; b < lengths.Length; b++)
        {
            offsets[b + 1] = offsets[b] + lengths[b];
        }

        return offsets;
    }

    /// <summary>Packs rows [from(b), to(b)) of one tensor of each single-sequence case, sequence after sequence.</summary>
    public static float[] Pack(AttentionCase[] seqs, Func<AttentionCase, float[]> tensor, int rowWidth, Func<int, int> from, Func<int, int> to) =>
        seqs.SelectMany((s, b) => tensor(s).AsSpan(from(b) * rowWidth, (to(b) - from(b)) * rowWidth).ToArray()).ToArray();
}
