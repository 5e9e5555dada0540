using System;

namespace Wudao.Runtime.Tests;

/// <summary>
/// Attention written plainly from the formula, in double: RoPE as its own pass over q and k, then
/// for every sequence and head the full score matrix, a softmax over each row, and P·V.
/// Layouts as the kernels': q/out [T, H, D], k/v [T, Hkv, D], lse [T, H].
/// </summary>
public static class AttentionReference
{
    public sealed record Result(float[] Output, float[] Lse);

    /// <summary>Rotate-half RoPE of every row of x [T, heads, dim]: (x_i, x_{i+d/2}) turned by pos·base^(−2i/d).</summary>
    public static float[] Rope(float[] x, int tokens, int heads, int dim, int[] positions, double ropeBase)
    {
        var y = new float[x.Length];
        var half = dim / 2;
        for (var t = 0; t < tokens; t++)
        {
            for (var h = 0; h < heads; h++)
            {
                var row = ((t * heads) + h) * dim;
                for (var i = 0; i < half; i++)
                {
                    var angle = positions[t] * Math.Pow(ropeBase, -2.0 * i / dim);
                    var a = x[row + i];
                    var b = x[row + i + half];
                    y[row + i] = (float)((a * Math.Cos(angle)) - (b * Math.Sin(angle)));
                    y[row + i + half] = (float)((b * Math.Cos(angle)) + (a * Math.Sin(angle)));
                }
            }
        }

        return y;
    }

    /// <summary>Each token's index within its sequence: the default RoPE positions.</summary>
    public static int[] IndexInSequence(int[] seqOffsets)
    {
        var positions = new int[seqOffsets[^1]];
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            for (var t = seqOffsets[b]; t < seqOffsets[b + 1]; t++)
            {
                positions[t] = t - seqOffsets[b];
            }
        }

        return positions;
    }

    public static Result Forward(int heads, int kvHeads, int dim, bool causal, bool rope, float[] q, float[] k, float[] v, int[] seqOffsets, int[]? positions = null, double ropeBase = 10000, double? scale = null)
    {
        var tokens = seqOffsets[^1];
        var s = scale ?? (1.0 / Math.Sqrt(dim));
        if (rope)
        {
            positions ??= IndexInSequence(seqOffsets);
            q = Rope(q, tokens, heads, dim, positions, ropeBase);
            k = Rope(k, tokens, kvHeads, dim, positions, ropeBase);
        }

        var output = new float[tokens * heads * dim];
        var lse = new float[tokens * heads];
        for (var b = 0; b + 1 < seqOffsets.Length; b++)
        {
            var start = seqOffsets[b];
            var n = seqOffsets[b + 1] - start;
            for (var h = 0; h < heads; h++)
            {
                var kv = h / (heads / kvHeads);

                // The full n×n score matrix of this sequence and head.
                var scores = new double[n, n];
                for (var i = 0; i < n; i++)
                {
                    for (var j = 0; j < n; j++)
                    {
                        var dot = 0.0;
                        for (var d = 0; d < dim; d++)
                        {
                            dot += (double)q[((((start + i) * heads) + h) * dim) + d] * k[((((start + j) * kvHeads) + kv) * dim) + d];
                        }

                        scores[i, j] = causal && j > i ? double.NegativeInfinity : dot * s;
                    }
                }

                for (var i = 0; i < n; i++)
                {
                    var max = double.NegativeInfinity;
                    for (var j = 0; j < n; j++)
                    {
                        max = Math.Max(max, scores[i, j]);
                    }

                    var p = new double[n];
                    var sum = 0.0;
                    for (var j = 0; j < n; j++)
                    {
                        p[j] = Math.Exp(scores[i, j] - max);
                        sum += p[j];
                    }

                    var row = ((start + i) * heads) + h;
                    lse[row] = (float)(max + Math.Log(sum));
                    for (var d = 0; d < dim; d++)
                    {
                        var acc = 0.0;
                        for (var j = 0; j < n; j++)
                        {
                            acc += p[j] / sum * v[((((start + j) * kvHeads) + kv) * dim) + d];
                        }

                        output[(row * dim) + d] = (float)acc;
                    }
                }
            }
        }

        return new Result(output, lse);
    }

    /// <summary>The reference over the first n tokens of a single-sequence case, every row from scratch.</summary>
    public static Result Prefix(AttentionCase s, int n, bool causal, bool rope) =>
        Forward(s.Heads, s.KvHeads, s.Dim, causal, rope,
            AttentionCase.Rows(s.Q, 0, n, s.Heads, s.Dim), AttentionCase.Rows(s.K, 0, n, s.KvHeads, s.Dim), AttentionCase.Rows(s.V, 0, n, s.KvHeads, s.Dim), new[] { 0, n });
}
