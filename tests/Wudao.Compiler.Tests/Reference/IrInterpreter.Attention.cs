using System;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Tests.Reference;

/// <summary>
/// The interpreter's attention: one sequence at positions 0..T−1, qkv rows [q heads | k heads | v heads],
/// rotate-half RoPE, softmax scale 1/√hd, optional causal mask, GQA groups, with each row's LSE
/// per head; and its backward written from the chain rule (P recomputed from the given LSE as
/// exp(S − LSE), then dV, dP, dS, dQ, dK, RoPE undone).
/// </summary>
internal static partial class IrInterpreter
{
    private static (Value Output, Value Lse, Value? Dqkv) Attention(Node n, Value qkv, Value? output, Value? lse, Value? dout)
    {
        int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = n.IntAttr("head_dim"), t = qkv.Rows, w = qkv.Width;
        var causal = n.Attr("causal") == "1";
        var rope = n.Attr("rope") == "1";
        var ropeBase = n.Attr("rope_base") != null ? n.FloatAttr("rope_base") : 10000f;
        var scale = 1 / Math.Sqrt(hd);
        var rotated = (double[])qkv.Data.Clone();
        if (rope)
        {
            for (var r = 0; r < t; r++)
            {
                for (var head = 0; head < heads + kv; head++)
                {
                    Rotate(rotated, (r * w) + (head * hd), hd, r, ropeBase, inverse: false);
                }
            }
        }

        var o = Value.Of(new[] { t, heads * hd });
        var lses = Value.Of(new[] { t, heads });
        var dqkv = dout == null ? null : Value.Of(qkv.Shape);
        for (var h = 0; h < heads; h++)
        {
            var g = h / (heads / kv);
            int qAt = h * hd, kAt = (heads + g) * hd, vAt = (heads + kv + g) * hd;
            for (var i = 0; i < t; i++)
            {
                var last = causal ? i : t - 1;
                var p = new double[last + 1];
                var max = double.NegativeInfinity;
                for (var j = 0; j <= last; j++)
                {
                    double s = 0;
                    for (var c = 0; c < hd; c++)
                    {
                        s += rotated[(i * w) + qAt + c] * rotated[(j * w) + kAt + c];
                    }

                    p[j] = s * scale;
                    max = Math.Max(max, p[j]);
                }

                double sum = 0;
                for (var j = 0; j <= last; j++)
                {
                    sum += Math.Exp(p[j] - max);
                }

                lses.Data[(i * heads) + h] = max + Math.Log(sum);

                // The backward takes P from the LSE it is given, as its kernel will.
                var norm = lse == null ? lses.Data[(i * heads) + h] : lse.Data[(i * heads) + h];
                for (var j = 0; j <= last; j++)
                {
                    p[j] = Math.Exp(p[j] - norm);
                    for (var c = 0; c < hd; c++)
                    {
                        o.Data[(i * heads * hd) + qAt + c] += p[j] * qkv.Data[(j * w) + vAt + c];
                    }
                }

                if (dqkv == null)
                {
                    continue;
                }

                // dS_j = P_j·(dP_j − ⟨dO, O⟩), dP_j = ⟨dO, V_j⟩; dV_j += P_j·dO; dQ += scale·dS_j·K_j; dK_j += scale·dS_j·Q.
                double dot = 0;
                for (var c = 0; c < hd; c++)
                {
                    dot += dout!.Data[(i * heads * hd) + qAt + c] * output!.Data[(i * heads * hd) + qAt + c];
                }

                for (var j = 0; j <= last; j++)
                {
                    double dp = 0;
                    for (var c = 0; c < hd; c++)
                    {
                        var d = dout!.Data[(i * heads * hd) + qAt + c];
                        dp += d * qkv.Data[(j * w) + vAt + c];
                        dqkv.Data[(j * w) + vAt + c] += p[j] * d;
                    }

                    var ds = p[j] * (dp - dot) * scale;
                    for (var c = 0; c < hd; c++)
                    {
                        dqkv.Data[(i * w) + qAt + c] += ds * rotated[(j * w) + kAt + c];
                        dqkv.Data[(j * w) + kAt + c] += ds * rotated[(i * w) + qAt + c];
                    }
                }
            }
        }

        if (dqkv != null && rope)
        {
            // The rotation is orthogonal: the cotangent before it is the cotangent after it turned back.
            for (var r = 0; r < t; r++)
            {
                for (var head = 0; head < heads + kv; head++)
                {
                    Rotate(dqkv.Data, (r * w) + (head * hd), hd, r, ropeBase, inverse: true);
                }
            }
        }

        return (o, lses, dqkv);
    }

    private static void Rotate(double[] data, int at, int hd, int position, double ropeBase, bool inverse)
    {
        var half = hd / 2;
        for (var i = 0; i < half; i++)
        {
            var angle = position * Math.Pow(ropeBase, -2.0 * i / hd) * (inverse ? -1 : 1);
            double a = data[at + i], b = data[at + i + half];
            data[at + i] = (a * Math.Cos(angle)) - (b * Math.Sin(angle));
            data[at + i + half] = (b * Math.Cos(angle)) + (a * Math.Sin(angle));
        }
    }
}
