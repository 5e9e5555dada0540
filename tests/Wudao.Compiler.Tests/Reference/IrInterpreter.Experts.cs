using System;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Tests.Reference;

/// <summary>The interpreter's expert path: dispatch, the grouped GEMMs and biases, activations, combine, and their backward ops.</summary>
internal static partial class IrInterpreter
{
    private static int RowOf(Value experts, Value slots, Value offsets, int choice) =>
        experts.Int(choice) < 0 || slots.Int(choice) < 0 ? -1 : offsets.Int(experts.Int(choice)) + slots.Int(choice);

    private static Value Dispatch(Value x, Value experts, Value slots, Value offsets)
    {
        int d = x.Width, k = experts.Width;
        var rows = Value.Of(new[] { offsets.Int(offsets.Data.Length - 1), d });
        for (var c = 0; c < experts.Data.Length; c++)
        {
            var row = RowOf(experts, slots, offsets, c);
            if (row >= 0)
            {
                Array.Copy(x.Data, c / k * d, rows.Data, row * d, d);
            }
        }

        return rows;
    }

    private static Value DispatchGrad(Value drows, Value experts, Value slots, Value offsets)
    {
        int d = drows.Width, k = experts.Width;
        var dx = Value.Of(new[] { experts.Rows, d });
        for (var c = 0; c < experts.Data.Length; c++)
        {
            var row = RowOf(experts, slots, offsets, c);
            for (var j = 0; row >= 0 && j < d; j++)
            {
                dx.Data[(c / k * d) + j] += drows.Data[(row * d) + j];
            }
        }

        return dx;
    }

    private static int ExpertOf(Value offsets, int row) => Enumerable.Range(0, offsets.Data.Length - 1).First(e => row < offsets.Int(e + 1));

    private static Value Grouped(Value rows, Value offsets, Func<int, double[], double[]> f)
    {
        var outRows = Enumerable.Range(0, rows.Rows).Select(r => f(ExpertOf(offsets, r), Row(rows, r))).ToArray();
        var width = outRows.Length == 0 ? rows.Width : outRows[0].Length;
        return new Value(outRows.SelectMany(r => r).ToArray(), new[] { rows.Rows, width });
    }

    /// <summary>row·W[e] ([in, out]), or row·W[e]ᵀ when <paramref name="transpose"/>.</summary>
    private static double[] Product(double[] row, Value w, int e, bool transpose)
    {
        int inner = w.Shape[1], outer = w.Shape[2], n = transpose ? inner : outer;
        var result = new double[n];
        for (var j = 0; j < n; j++)
        {
            for (var p = 0; p < row.Length; p++)
            {
                result[j] += row[p] * (transpose ? w.Data[(((e * inner) + j) * outer) + p] : w.Data[(((e * inner) + p) * outer) + j]);
            }
        }

        return result;
    }

    private static Value GroupedDw(Value x, Value dy, Value offsets)
    {
        int experts = offsets.Data.Length - 1, m = x.Width, n = dy.Width;
        var dw = Value.Of(new[] { experts, m, n });
        for (var r = 0; r < x.Rows; r++)
        {
            var e = ExpertOf(offsets, r);
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < n; j++)
                {
                    dw.Data[(((e * m) + i) * n) + j] += x.Data[(r * m) + i] * dy.Data[(r * n) + j];
                }
            }
        }

        return dw;
    }

    private static Value BiasGrad(Value dy, Value offsets)
    {
        var db = Value.Of(new[] { offsets.Data.Length - 1, dy.Width });
        for (var r = 0; r < dy.Rows; r++)
        {
            var e = ExpertOf(offsets, r);
            for (var j = 0; j < dy.Width; j++)
            {
                db.Data[(e * dy.Width) + j] += dy.Data[(r * dy.Width) + j];
            }
        }

        return db;
    }

    private static Value Combine(Value y, Value experts, Value gates, Value slots, Value offsets)
    {
        int d = y.Width, k = experts.Width;
        var output = Value.Of(new[] { experts.Rows, d });
        for (var c = 0; c < experts.Data.Length; c++)
        {
            var row = RowOf(experts, slots, offsets, c);
            for (var j = 0; row >= 0 && j < d; j++)
            {
                output.Data[(c / k * d) + j] += gates.Data[c] * y.Data[(row * d) + j];
            }
        }

        return output;
    }

    private static Value CombineGradRows(Value dout, Value experts, Value gates, Value slots, Value offsets)
    {
        int d = dout.Width, k = experts.Width;
        var dy = Value.Of(new[] { offsets.Int(offsets.Data.Length - 1), d });
        for (var c = 0; c < experts.Data.Length; c++)
        {
            var row = RowOf(experts, slots, offsets, c);
            for (var j = 0; row >= 0 && j < d; j++)
            {
                dy.Data[(row * d) + j] = gates.Data[c] * dout.Data[(c / k * d) + j];
            }
        }

        return dy;
    }

    private static Value CombineGradGates(Value dout, Value y, Value experts, Value slots, Value offsets)
    {
        int d = dout.Width, k = experts.Width;
        var dg = Value.Of(experts.Shape);
        for (var c = 0; c < experts.Data.Length; c++)
        {
            var row = RowOf(experts, slots, offsets, c);
            for (var j = 0; row >= 0 && j < d; j++)
            {
                dg.Data[c] += dout.Data[(c / k * d) + j] * y.Data[(row * d) + j];
            }
        }

        return dg;
    }

    private static Value Activate(ActivationDef a, Value x) => Rows(x, row =>
    {
        var w = row.Length / a.Width;
        return Enumerable.Range(0, w).Select(j => ExprEvaluator.Evaluate(a.Function, row[j]) * (a.Gated ? row[w + j] : 1)).ToArray();
    });

    private static Value ActivateGrad(ActivationDef a, Value x, Value da) => new(Enumerable.Range(0, x.Rows).SelectMany(r =>
    {
        var row = Row(x, r);
        var d = Row(da, r);
        var w = d.Length;
        var grad = new double[row.Length];
        for (var j = 0; j < w; j++)
        {
            var up = a.Gated ? row[w + j] : 1;
            grad[j] = ExprEvaluator.Evaluate(a.Derivative, row[j]) * up * d[j];
            if (a.Gated)
            {
                grad[w + j] = ExprEvaluator.Evaluate(a.Function, row[j]) * d[j];
            }
        }

        return grad;
    }).ToArray(), x.Shape);
}
