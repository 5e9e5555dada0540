using System;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Tests.Reference;

/// <summary>The interpreter's model ops: embedding, norms, projections, attention with RoPE and GQA, the dense MLP, the loss.</summary>
internal static partial class IrInterpreter
{
    private static Value[]? Model(Node n, Value[] v) => n.Op switch
    {
        Ops.Embed => new[] { new Value(Enumerable.Range(0, v[0].Data.Length).SelectMany(t => Row(v[1], v[0].Int(t))).ToArray(), new[] { v[0].Data.Length, v[1].Width }) },
        Ops.EmbedGrad => new[] { EmbedGrad(v[0], v[1], n.IntAttr("vocab")) },
        Ops.Linear => new[] { MatMul(v[0], v[1], transposeB: false) },
        Ops.LinearDx => new[] { MatMul(v[0], v[1], transposeB: true) },
        Ops.RmsNorm or Ops.LayerNorm => new[] { Norm(n, v[0], v[1], v.Length > 2 ? v[2] : null) },
        Ops.AddRmsNorm or Ops.AddLayerNorm => AddNorm(n, v),
        Ops.RmsNormGrad or Ops.LayerNormGrad => new[] { Rows2(v[0], v[2], (x, dy) => NormDx(n.Op == Ops.LayerNormGrad, x, v[1].Data, dy, n.FloatAttr("eps"))) },
        Ops.RmsNormGradWeight or Ops.LayerNormGradWeight => new[] { NormDw(n.Op == Ops.LayerNormGradWeight, v[0], v[1], n.FloatAttr("eps")) },
        Ops.SumRows => new[] { new Value(Enumerable.Range(0, v[0].Width).Select(j => Enumerable.Range(0, v[0].Rows).Sum(t => v[0].Data[(t * v[0].Width) + j])).ToArray(), new[] { v[0].Width }) },
        Ops.QkNorm => new[] { QkHeads(n, v[0], (x, head, q) => NormRow(false, x, (q ? v[1] : v[2]).Data, null, n.FloatAttr("eps"))) },
        Ops.QkNormGrad => new[] { QkNormGrad(n, v[0], v[1], v[2], v[3]) },
        Ops.QkNormGradWeight => new[] { QkNormGradWeight(n, v[0], v[1]) },
        Ops.Attention => new[] { Attention(n, v[0], null, null, null).Output },
        Ops.AttentionTrain => Attention(n, v[0], null, null, null) is var a ? new[] { a.Output, a.Lse } : null,
        Ops.AttentionLse => new[] { Attention(n, v[0], null, null, null).Lse },
        Ops.AttentionGrad => new[] { Attention(n, v[0], v[1], v[2], v[3]).Dqkv! },
        Ops.DenseFfn => new[] { DenseFfn(n, v) },
        Ops.DenseUp => new[] { Rows(MatMul(v[0], v[1], transposeB: false), r => r.Select((x, j) => x + v[2].Data[j]).ToArray()) },
        Ops.CrossEntropy => new[] { new Value(new[] { Enumerable.Range(0, v[0].Rows).Sum(t => Lse(Row(v[0], t)) - v[0].Data[(t * v[0].Width) + v[1].Int(t)]) / Math.Max(1, v[0].Rows) }, Array.Empty<int>()) },
        Ops.CrossEntropyGrad => new[] { CrossEntropyGrad(v[0], v[1], v[2].Data[0]) },
        _ => null,
    };

    private static double Lse(double[] row)
    {
        var m = row.Max();
        return m + Math.Log(row.Sum(x => Math.Exp(x - m)));
    }

    private static Value EmbedGrad(Value ids, Value dh, int vocab)
    {
        var d = Value.Of(new[] { vocab, dh.Width });
        for (var t = 0; t < ids.Data.Length; t++)
        {
            for (var j = 0; j < dh.Width; j++)
            {
                d.Data[(ids.Int(t) * dh.Width) + j] += dh.Data[(t * dh.Width) + j];
            }
        }

        return d;
    }

    private static double[] NormRow(bool layer, double[] x, double[] gamma, double[]? beta, double eps)
    {
        var mu = layer ? x.Average() : 0;
        var r = 1 / Math.Sqrt(x.Select(a => (a - mu) * (a - mu)).Average() + eps);
        return x.Select((a, j) => ((a - mu) * r * gamma[j]) + (beta?[j] ?? 0)).ToArray();
    }

    private static Value Norm(Node n, Value x, Value gamma, Value? beta) =>
        Rows(x, row => NormRow(n.Op is Ops.LayerNorm or Ops.AddLayerNorm, row, gamma.Data, beta?.Data, n.FloatAttr("eps")));

    private static Value[] AddNorm(Node n, Value[] v)
    {
        var h = new Value(v[0].Data.Zip(v[1].Data, (a, b) => a + b).ToArray(), v[0].Shape);
        return new[] { h, Norm(n, h, v[2], v.Length > 3 ? v[3] : null) };
    }

    private static double[] NormDx(bool layer, double[] x, double[] gamma, double[] dy, double eps)
    {
        var d = x.Length;
        var mu = layer ? x.Average() : 0;
        var r = 1 / Math.Sqrt(x.Select(a => (a - mu) * (a - mu)).Average() + eps);
        var g = dy.Select((a, j) => a * gamma[j]).ToArray();
        var xhat = x.Select(a => (a - mu) * r).ToArray();
        var meanG = layer ? g.Average() : 0;
        var meanGx = g.Zip(xhat, (a, b) => a * b).Sum() / d;
        return g.Select((a, j) => r * (a - meanG - (xhat[j] * meanGx))).ToArray();
    }

    private static Value NormDw(bool layer, Value x, Value dy, double eps)
    {
        var dw = Value.Of(new[] { x.Width });
        for (var t = 0; t < x.Rows; t++)
        {
            var row = Row(x, t);
            var xhat = NormRow(layer, row, Enumerable.Repeat(1.0, row.Length).ToArray(), null, eps);
            for (var j = 0; j < row.Length; j++)
            {
                dw.Data[j] += dy.Data[(t * x.Width) + j] * xhat[j];
            }
        }

        return dw;
    }

    /// <summary>Applies <paramref name="f"/> to each query head (q = true) and key head of every row; value heads are copied.</summary>
    private static Value QkHeads(Node n, Value qkv, Func<double[], int, bool, double[]> f)
    {
        int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = qkv.Width / (heads + (2 * kv));
        return Rows(qkv, row =>
        {
            var result = (double[])row.Clone();
            for (var head = 0; head < heads + kv; head++)
            {
                f(row.Skip(head * hd).Take(hd).ToArray(), head, head < heads).CopyTo(result, head * hd);
            }

            return result;
        });
    }

    private static Value QkNormGrad(Node n, Value qkv, Value qGamma, Value kGamma, Value dy)
    {
        int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = qkv.Width / (heads + (2 * kv));
        var dx = new Value((double[])dy.Data.Clone(), dy.Shape);
        for (var t = 0; t < qkv.Rows; t++)
        {
            for (var head = 0; head < heads + kv; head++)
            {
                var at = (t * qkv.Width) + (head * hd);
                var g = NormDx(false, qkv.Data.Skip(at).Take(hd).ToArray(), (head < heads ? qGamma : kGamma).Data, dy.Data.Skip(at).Take(hd).ToArray(), n.FloatAttr("eps"));
                g.CopyTo(dx.Data, at);
            }
        }

        return dx;
    }

    private static Value QkNormGradWeight(Node n, Value qkv, Value dy)
    {
        int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = qkv.Width / (heads + (2 * kv));
        var q = n.IntAttr("part") == 0;
        var dw = Value.Of(new[] { hd });
        for (var t = 0; t < qkv.Rows; t++)
        {
            for (var head = q ? 0 : heads; head < (q ? heads : heads + kv); head++)
            {
                var at = (t * qkv.Width) + (head * hd);
                var xhat = NormRow(false, qkv.Data.Skip(at).Take(hd).ToArray(), Enumerable.Repeat(1.0, hd).ToArray(), null, n.FloatAttr("eps"));
                for (var j = 0; j < hd; j++)
                {
                    dw.Data[j] += dy.Data[at + j] * xhat[j];
                }
            }
        }

        return dw;
    }

    private static Value DenseFfn(Node n, Value[] v)
    {
        var act = Activations.ByOp(n.Attr("activation")!);
        var hidden = Activate(act, Rows(MatMul(v[0], v[1], transposeB: false), r => r.Select((x, j) => x + v[2].Data[j]).ToArray()));
        return Rows(MatMul(hidden, v[3], transposeB: false), r => r.Select((x, j) => x + v[4].Data[j]).ToArray());
    }

    private static Value CrossEntropyGrad(Value logits, Value targets, double dl)
    {
        int t = logits.Rows;
        return Rows(logits, row => row).Data.Length == 0 ? logits : new Value(Enumerable.Range(0, t).SelectMany(r =>
        {
            var row = Row(logits, r);
            var lse = Lse(row);
            return row.Select((x, j) => (Math.Exp(x - lse) - (j == targets.Int(r) ? 1 : 0)) * dl / t);
        }).ToArray(), logits.Shape);
    }
}
