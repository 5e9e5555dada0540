using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Tests.Reference;

/// <summary>A tensor of the interpreter: row-major doubles (integers stored exactly), and its shape.</summary>
internal sealed record Value(double[] Data, int[] Shape)
{
    public int Rows => Shape.Length == 0 ? 1 : Shape[0];

    public int Width => Shape.Length < 2 ? 1 : Shape[^1];

    public int Int(int i) => (int)Data[i];

    public static Value Of(int[] shape) => new(new double[shape.Aggregate(1, (a, b) => a * b)], shape);
}

/// <summary>
/// Runs a typed graph in double, one op at a time, from each op's definition written out plainly
/// (loops, no fusion): the forward ops of a MoE layer and the backward ops the gradient rules
/// emit. It shares no code with the emitters; a gradient check of its backward against finite
/// differences of its forward checks the rules and the backward ops' meaning at once.
/// </summary>
internal static partial class IrInterpreter
{
    /// <summary>Values by name after running <paramref name="graph"/> on <paramref name="inputs"/> and <paramref name="weights"/> (by param value name).</summary>
    public static Dictionary<string, Value> Run(Graph graph, IReadOnlyDictionary<string, Value> inputs, IReadOnlyDictionary<string, Value> weights)
    {
        var env = new Dictionary<string, Value>(inputs);
        foreach (var n in graph.Nodes)
        {
            var results = n.Op == Ops.Param ? new[] { weights[n.Results[0]] } : Apply(n, n.Operands.Select(o => env[o]).ToArray());
            for (var i = 0; i < n.Results.Count; i++)
            {
                env[n.Results[i]] = results[i];
            }
        }

        return env;
    }

    private static Value[] Apply(Node n, Value[] v)
    {
        if (Activations.IsActivation(n.Op))
        {
            return new[] { Activate(Activations.ByOp(n.Op), v[0]) };
        }

        if (n.Op.EndsWith("_grad", StringComparison.Ordinal) && Activations.IsActivation(n.Op[..^5]))
        {
            return new[] { ActivateGrad(Activations.ByOp(n.Op[..^5]), v[0], v[1]) };
        }

        return n.Op switch
        {
            Ops.MatMul => new[] { MatMul(v[0], v[1], transposeB: false) },
            Ops.MatMulNt => new[] { MatMul(v[0], v[1], transposeB: true) },
            Ops.MatMulTn => new[] { MatMulTn(v[0], v[1]) },
            Ops.Add => new[] { new Value(v[0].Data.Zip(v[1].Data, (a, b) => a + b).ToArray(), v[0].Shape) },
            Ops.Softmax => new[] { Rows(v[0], r => { var m = r.Max(); var e = r.Select(x => Math.Exp(x - m)).ToArray(); var s = e.Sum(); return e.Select(x => x / s).ToArray(); }) },
            Ops.SoftmaxGrad => new[] { Rows2(v[0], v[1], (p, dp) => { var dot = p.Zip(dp, (a, b) => a * b).Sum(); return p.Select((x, i) => x * (dp[i] - dot)).ToArray(); }) },
            Ops.Sigmoid => new[] { Map(v[0], x => 1 / (1 + Math.Exp(-x))) },
            Ops.SigmoidGrad => new[] { new Value(v[0].Data.Zip(v[1].Data, (s, ds) => s * (1 - s) * ds).ToArray(), v[0].Shape) },
            Ops.TopK => TopK(v[0], null, n.IntAttr("k")),
            Ops.TopKBiased => TopK(v[0], v[1], n.IntAttr("k")),
            Ops.TopKGrad => new[] { TopKGrad(v[0], v[1], n.IntAttr("experts")) },
            Ops.Renorm => new[] { Rows(v[0], w => { var s = w.Sum(); return w.Select(x => x / s).ToArray(); }) },
            Ops.RenormGrad => new[] { Rows2(v[0], v[1], (w, dg) => { var s = w.Sum(); var dot = dg.Select((d, i) => d * w[i] / s).Sum(); return dg.Select(d => (d - dot) / s).ToArray(); }) },
            Ops.SecondDrop => new[] { SecondDrop(v[0], v[1]) },
            Ops.AppendShared => AppendShared(v[0], v[1], n.IntAttr("routed"), n.IntAttr("shared")),
            Ops.AppendSharedGrad => new[] { Rows(v[0], r => r.Take(r.Length - n.IntAttr("shared")).ToArray()) },
            Ops.Capacity => Capacity(v[0], n.IntAttr("experts"), n.FloatAttr("factor"), n.Attr("routed") is null ? n.IntAttr("experts") : n.IntAttr("routed")),
            Ops.Scan => new[] { Scan(v[0]) },
            Ops.NonFinite => new[] { new Value(new double[] { Enumerable.Range(0, v[0].Rows).Count(t => v[0].Data.Skip(t * v[0].Width).Take(v[0].Width).Any(x => !double.IsFinite(x))) }, Array.Empty<int>()) },
            Ops.AuxLoss => new[] { AuxLoss(v[0], v[1], n.FloatAttr("alpha")) },
            Ops.AuxLossGrad => new[] { AuxLossGrad(v[0].Data[0], v[1], v[2], n.FloatAttr("alpha")) },
            Ops.Dispatch => new[] { Dispatch(v[0], v[1], v[2], v[3]) },
            Ops.DispatchGrad => new[] { DispatchGrad(v[0], v[1], v[2], v[3]) },
            Ops.GroupedMatMul => new[] { Grouped(v[0], v[2], (e, row) => Product(row, v[1], e, transpose: false)) },
            Ops.GroupedMatMulDx => new[] { Grouped(v[0], v[2], (e, row) => Product(row, v[1], e, transpose: true)) },
            Ops.GroupedMatMulDw => new[] { GroupedDw(v[0], v[1], v[2]) },
            Ops.Bias => new[] { Grouped(v[0], v[2], (e, row) => row.Select((x, j) => x + v[1].Data[(e * v[1].Width) + j]).ToArray()) },
            Ops.BiasGrad => new[] { BiasGrad(v[0], v[1]) },
            Ops.Combine => new[] { Combine(v[0], v[1], v[2], v[3], v[4]) },
            Ops.CombineGradRows => new[] { CombineGradRows(v[0], v[1], v[2], v[3], v[4]) },
            Ops.CombineGradGates => new[] { CombineGradGates(v[0], v[1], v[2], v[3], v[4]) },
            _ => Model(n, v) ?? Routers(n, v) ?? throw new NotSupportedException($"the interpreter has no '{n.Op}'"),
        };
    }

    private static double[] Row(Value v, int r) => v.Data.Skip(r * v.Width).Take(v.Width).ToArray();

    private static Value Rows(Value v, Func<double[], double[]> f)
    {
        var rows = Enumerable.Range(0, v.Rows).Select(r => f(Row(v, r))).ToArray();
        var width = rows.Length == 0 ? v.Width : rows[0].Length;
        return new Value(rows.SelectMany(r => r).ToArray(), new[] { v.Rows, width });
    }

    private static Value Rows2(Value a, Value b, Func<double[], double[], double[]> f) =>
        new(Enumerable.Range(0, a.Rows).SelectMany(r => f(Row(a, r), Row(b, r))).ToArray(), a.Shape);

    private static Value Map(Value v, Func<double, double> f) => new(v.Data.Select(f).ToArray(), v.Shape);

    private static Value MatMul(Value a, Value b, bool transposeB)
    {
        int m = a.Rows, k = a.Width, n = transposeB ? b.Rows : b.Width;
        var c = Value.Of(new[] { m, n });
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double s = 0;
                for (var p = 0; p < k; p++)
                {
                    s += a.Data[(i * k) + p] * (transposeB ? b.Data[(j * k) + p] : b.Data[(p * n) + j]);
                }

                c.Data[(i * n) + j] = s;
            }
        }

        return c;
    }

    private static Value MatMulTn(Value a, Value b)
    {
        int t = a.Rows, m = a.Width, n = b.Width;
        var c = Value.Of(new[] { m, n });
        for (var r = 0; r < t; r++)
        {
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    c.Data[(i * n) + j] += a.Data[(r * m) + i] * b.Data[(r * n) + j];
                }
            }
        }

        return c;
    }

    private static Value[] TopK(Value scores, Value? bias, int k)
    {
        int t = scores.Rows, e = scores.Width;
        var values = Value.Of(new[] { t, k });
        var index = Value.Of(new[] { t, k });
        for (var r = 0; r < t; r++)
        {
            var order = Enumerable.Range(0, e).OrderByDescending(j => scores.Data[(r * e) + j] + (bias?.Data[j] ?? 0)).ThenBy(j => j).Take(k).ToArray();
            for (var j = 0; j < k; j++)
            {
                values.Data[(r * k) + j] = scores.Data[(r * e) + order[j]];
                index.Data[(r * k) + j] = order[j];
            }
        }

        return new[] { values, index };
    }

    private static Value TopKGrad(Value dv, Value index, int experts)
    {
        var d = Value.Of(new[] { dv.Rows, experts });
        for (var i = 0; i < dv.Data.Length; i++)
        {
            d.Data[(i / dv.Width * experts) + index.Int(i)] += dv.Data[i];
        }

        return d;
    }

    /// <summary>GShard's random second-choice drop, with a fixed draw per token (the kernels draw by the counter RNG).</summary>
    private static Value SecondDrop(Value gates, Value experts)
    {
        var e = new Value((double[])experts.Data.Clone(), experts.Shape);
        for (var t = 0; t < gates.Rows; t++)
        {
            var u = (t * 0.618034) % 1.0;
            if (u >= 2 * gates.Data[(t * 2) + 1])
            {
                e.Data[(t * 2) + 1] = -1;
            }
        }

        return e;
    }

    private static Value[] AppendShared(Value gates, Value experts, int routed, int shared)
    {
        int t = gates.Rows, k = gates.Width;
        var g = Value.Of(new[] { t, k + shared });
        var e = Value.Of(new[] { t, k + shared });
        for (var r = 0; r < t; r++)
        {
            for (var j = 0; j < k + shared; j++)
            {
                g.Data[(r * (k + shared)) + j] = j < k ? gates.Data[(r * k) + j] : 1;
                e.Data[(r * (k + shared)) + j] = j < k ? experts.Data[(r * k) + j] : routed + j - k;
            }
        }

        return new[] { g, e };
    }

    /// <summary>First choices of every token take slots before any second choice; experts past <paramref name="routed"/> have no limit.</summary>
    private static Value[] Capacity(Value experts, int count, float factor, int routed)
    {
        int t = experts.Rows, k = experts.Width;
        var capacity = factor > 0 ? (int)Math.Ceiling((double)factor * t * k / routed) : int.MaxValue;
        var filled = new int[count];
        var slots = Value.Of(new[] { t, k });
        for (var j = 0; j < k; j++)
        {
            for (var r = 0; r < t; r++)
            {
                var ex = experts.Int((r * k) + j);
                slots.Data[(r * k) + j] = -1;
                if (ex >= 0 && (ex >= routed || filled[ex] < capacity))
                {
                    slots.Data[(r * k) + j] = filled[ex]++;
                }
                else if (ex >= 0)
                {
                    filled[ex]++;
                }
            }
        }

        var kept = filled.Select((f, ex) => ex >= routed ? f : Math.Min(f, capacity)).ToArray();
        return new[] { slots, new Value(kept.Select(x => (double)x).ToArray(), new[] { count }), new Value(new double[] { filled.Sum() - kept.Sum() }, Array.Empty<int>()) };
    }

    private static Value Scan(Value kept)
    {
        var offsets = Value.Of(new[] { kept.Data.Length + 1 });
        for (var e = 0; e < kept.Data.Length; e++)
        {
            offsets.Data[e + 1] = offsets.Data[e] + kept.Data[e];
        }

        return offsets;
    }

    /// <summary>f_e: the share of tokens whose first choice is e.</summary>
    private static double[] FirstChoiceShare(Value experts, int count) =>
        Enumerable.Range(0, count).Select(e => Enumerable.Range(0, experts.Rows).Count(t => experts.Int(t * experts.Width) == e) / (double)Math.Max(1, experts.Rows)).ToArray();

    private static Value AuxLoss(Value probs, Value experts, float alpha)
    {
        int t = probs.Rows, e = probs.Width;
        var f = FirstChoiceShare(experts, e);
        var aux = Enumerable.Range(0, e).Sum(j => f[j] * Enumerable.Range(0, t).Sum(r => probs.Data[(r * e) + j]) / Math.Max(1, t));
        return new Value(new[] { alpha * e * aux }, Array.Empty<int>());
    }

    private static Value AuxLossGrad(double daux, Value probs, Value experts, float alpha)
    {
        int t = probs.Rows, e = probs.Width;
        var f = FirstChoiceShare(experts, e);
        return new Value(Enumerable.Range(0, t * e).Select(i => daux * alpha * e * f[i % e] / t).ToArray(), probs.Shape);
    }
}
