using System;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;

namespace Wudao.Compiler.Tests.Reference;

/// <summary>
/// The interpreter's noisy top-k, jitter, expert choice and z-loss ops, and their backward ops.
/// The random draws are fixed functions of the index here (the kernels draw by the counter RNG):
/// a gradient check needs the same draw in every forward, not a particular one.
/// </summary>
internal static partial class IrInterpreter
{
    private static Value[]? Routers(Node n, Value[] v) => n.Op switch
    {
        Ops.Jitter => new[] { new Value(v[0].Data.Select((x, i) => x * JitterDraw(i, n.FloatAttr("eps"))).ToArray(), v[0].Shape) },
        Ops.JitterGrad => new[] { new Value(v[0].Data.Select((d, i) => d * JitterDraw(i, n.FloatAttr("eps"))).ToArray(), v[0].Shape) },
        Ops.Noisy => new[] { new Value(v[0].Data.Select((l, i) => l + (NoiseDraw(i / v[0].Width, i % v[0].Width) * Softplus(v[1].Data[i]))).ToArray(), v[0].Shape) },
        Ops.NoisyGrad => new[] { new Value(v[0].Data.Select((dh, i) => dh * (v[3].Data[i] - v[1].Data[i]) / Softplus(v[2].Data[i]) * ExprEvaluator.Evaluate(Derivative.Of(RouterFunctions.Softplus), v[2].Data[i])).ToArray(), v[0].Shape) },
        Ops.LoadProb => new[] { LoadProb(v[0], v[1], v[2], n.IntAttr("k"), null, 0) },
        Ops.LoadProbGrad => new[] { LoadProb(v[1], v[2], v[3], n.IntAttr("k"), v[0], n.IntAttr("part")) },
        Ops.NoisyLoss => new[] { Scalar(n.FloatAttr("importance") * CvSquared(Importance(v[1], v[2], v[0].Width))), Scalar(n.FloatAttr("load") * CvSquared(ColumnSums(v[0]))) },
        Ops.ImportanceLossGrad => new[] { ImportanceGrad(v[0].Data[0] * n.FloatAttr("weight"), v[1], v[2], n.IntAttr("experts")) },
        Ops.LoadLossGrad => new[] { LoadGrad(v[0].Data[0] * n.FloatAttr("weight"), v[1]) },
        Ops.ExpertChoice => ExpertChoice(v[0], n.FloatAttr("factor")),
        Ops.ExpertChoiceGrad => new[] { new Value(v[0].Data.Select((d, i) => v[1].Int(i) >= 0 ? d : 0).ToArray(), v[0].Shape) },
        Ops.LogSumExp => new[] { new Value(Enumerable.Range(0, v[0].Rows).Select(t => Lse(Row(v[0], t))).ToArray(), new[] { v[0].Rows }) },
        Ops.LogSumExpGrad => new[] { new Value(v[0].Data.Select((l, i) => Math.Exp(l - v[1].Data[i / v[0].Width]) * v[2].Data[i / v[0].Width]).ToArray(), v[0].Shape) },
        Ops.ZLoss => new[] { Scalar(n.FloatAttr("weight") * v[0].Data.Sum(x => x * x) / Math.Max(1, v[0].Data.Length)) },
        Ops.ZLossGrad => new[] { new Value(v[1].Data.Select(l => v[0].Data[0] * 2 * n.FloatAttr("weight") * l / v[1].Data.Length).ToArray(), v[1].Shape) },
        _ => null,
    };

    private static Value Scalar(double x) => new(new[] { x }, Array.Empty<int>());

    private static double JitterDraw(int i, double eps) => 1 + (eps * ((2 * ((i * 0.7548776662) % 1.0)) - 1));

    private static double NoiseDraw(int t, int e) => 1.3 * Math.Sin((1.7 * t) + (2.3 * e) + 0.5);

    private static double Softplus(double x) => ExprEvaluator.Evaluate(RouterFunctions.Softplus, x);

    /// <summary>P(t, e) = Φ(z), z = (logits − threshold)/σ; or, with <paramref name="dp"/>, the cotangent of operand <paramref name="part"/>.</summary>
    private static Value LoadProb(Value logits, Value raw, Value noisy, int k, Value? dp, int part)
    {
        int t = logits.Rows, e = logits.Width;
        var result = Value.Of(logits.Shape);
        for (var r = 0; r < t; r++)
        {
            var order = Enumerable.Range(0, e).OrderByDescending(j => noisy.Data[(r * e) + j]).ThenBy(j => j).ToArray();
            for (var rank = 0; rank < e; rank++)
            {
                var j = order[rank];
                var at = (r * e) + j;
                var threshold = rank < k ? (k < e ? order[k] : -1) : order[k - 1];
                var thr = threshold < 0 ? double.NegativeInfinity : noisy.Data[(r * e) + threshold];
                var sigma = Softplus(raw.Data[at]);
                var z = (logits.Data[at] - thr) / sigma;
                if (dp == null)
                {
                    result.Data[at] = ExprEvaluator.Evaluate(RouterFunctions.Phi, z);
                    continue;
                }

                var dz = double.IsInfinity(z) ? 0 : dp.Data[at] * ExprEvaluator.Evaluate(Derivative.Of(RouterFunctions.Phi), z);
                switch (part)
                {
                    case 0:
                        result.Data[at] += dz / sigma;
                        break;
                    case 1:
                        result.Data[at] += -dz * z / sigma * ExprEvaluator.Evaluate(Derivative.Of(RouterFunctions.Softplus), raw.Data[at]);
                        break;
                    default:
                        if (threshold >= 0)
                        {
                            result.Data[(r * e) + threshold] += -dz / sigma;
                        }

                        break;
                }
            }
        }

        return result;
    }

    private static double[] Importance(Value gates, Value experts, int count)
    {
        var x = new double[count];
        for (var i = 0; i < gates.Data.Length; i++)
        {
            x[experts.Int(i)] += gates.Data[i];
        }

        return x;
    }

    private static double[] ColumnSums(Value v) => Enumerable.Range(0, v.Width).Select(j => Enumerable.Range(0, v.Rows).Sum(t => v.Data[(t * v.Width) + j])).ToArray();

    /// <summary>Unbiased variance over (mean² + 1e-10), 0 below two values, as the kernels define it.</summary>
    private static double CvSquared(double[] x)
    {
        if (x.Length < 2)
        {
            return 0;
        }

        var mean = x.Average();
        return x.Sum(a => (a - mean) * (a - mean)) / (x.Length - 1) / ((mean * mean) + 1e-10);
    }

    private static double[] CvSquaredGrad(double[] x)
    {
        int n = x.Length;
        if (n < 2)
        {
            return new double[n];
        }

        var mean = x.Average();
        var variance = x.Sum(a => (a - mean) * (a - mean)) / (n - 1);
        var m = (mean * mean) + 1e-10;
        return x.Select(a => ((2 * (a - mean) / (n - 1)) / m) - (variance * (2 * mean / n) / (m * m))).ToArray();
    }

    private static Value ImportanceGrad(double scale, Value gates, Value experts, int count)
    {
        var dx = CvSquaredGrad(Importance(gates, experts, count));
        return new Value(gates.Data.Select((_, i) => scale * dx[experts.Int(i)]).ToArray(), gates.Shape);
    }

    private static Value LoadGrad(double scale, Value p)
    {
        var dx = CvSquaredGrad(ColumnSums(p));
        return new Value(p.Data.Select((_, i) => scale * dx[i % p.Width]).ToArray(), p.Shape);
    }

    /// <summary>Each expert takes its top C = min(T, ⌈c·T/E⌉) tokens by probability (c = 2 when 0), slots in rank order.</summary>
    private static Value[] ExpertChoice(Value probs, float factor)
    {
        int t = probs.Rows, e = probs.Width;
        var capacity = Math.Min(t, (int)Math.Ceiling((factor > 0 ? factor : 2) * t / e));
        var experts = new Value(Enumerable.Repeat(-1.0, t * e).ToArray(), probs.Shape);
        var slots = new Value(Enumerable.Repeat(-1.0, t * e).ToArray(), probs.Shape);
        var gates = Value.Of(probs.Shape);
        for (var j = 0; j < e; j++)
        {
            var order = Enumerable.Range(0, t).OrderByDescending(r => probs.Data[(r * e) + j]).ThenBy(r => r).Take(capacity).ToArray();
            for (var rank = 0; rank < order.Length; rank++)
            {
                var at = (order[rank] * e) + j;
                experts.Data[at] = j;
                slots.Data[at] = rank;
                gates.Data[at] = probs.Data[at];
            }
        }

        var dropped = Enumerable.Range(0, t).Count(r => Enumerable.Range(0, e).All(j => experts.Data[(r * e) + j] < 0));
        return new[] { experts, gates, slots, new Value(Enumerable.Repeat((double)capacity, e).ToArray(), new[] { e }), Scalar(dropped) };
    }
}
