using System.Collections.Generic;
using System.Linq;
using static Wudao.Compiler.Ir.ShapeRules;

namespace Wudao.Compiler.Ir;

/// <summary>Dispatch, the experts' grouped GEMMs and their epilogues (bias, every activation), and combine.</summary>
internal static class ExpertOpDefs
{
    public static IEnumerable<OpDef> All => new[]
    {
        new OpDef(Ops.Dispatch, 4, 1, IterationSpace.Choices, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32(Dim.Sym("S"), t[0].Shape[1]) };
        })
        {
            // Each kept row goes back to its token: dx[t] = Σ over t's kept choices of d rows[slot] (a gather-add, no atomics).
            Gradient = static (n, b) => b.With(0, dy => b.Accumulate(0, Ops.DispatchGrad, new[] { dy, n.Operands[1], n.Operands[2], n.Operands[3] })),
        },
        new OpDef(Ops.DispatchGrad, 4, 1, IterationSpace.TokenGather, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            return new[] { TensorType.F32(t[1].Shape[0], t[0].Shape[1]) };
        }),
        new OpDef(Ops.GroupedMatMul, 3, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 3, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[2]) };
        })
        {
            // Per expert e, on its rows: dX = dY·W_eᵀ and dW_e = X_eᵀ·dY_e; an expert with no rows gets a zero dW_e.
            Gradient = static (n, b) => b.With(0, dy =>
            {
                b.Accumulate(0, Ops.GroupedMatMulDx, new[] { dy, n.Operands[1], n.Operands[2] });
                b.Accumulate(1, Ops.GroupedMatMulDw, new[] { n.Operands[0], dy, n.Operands[2] });
            }),
        },
        new OpDef(Ops.GroupedMatMulDx, 3, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 3, 1);
            Same(n, t[0].Shape[1], t[1].Shape[2], "output dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[1]) };
        }),
        new OpDef(Ops.GroupedMatMulDw, 3, 1, IterationSpace.WeightTiles, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Rows(n, t[1], 2, 1);
            Same(n, t[0].Shape[0], t[1].Shape[0], "row counts");
            var experts = Constant(n, Rank(n, t[2], 1, 2).Shape[0], "offsets length") - 1;
            return new[] { TensorType.F32(experts, t[0].Shape[1], t[1].Shape[1]) };
        }),
        new OpDef(Ops.Bias, 3, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "bias width");
            return new[] { t[0] };
        }, OpRole.Epilogue)
        {
            Gradient = static (n, b) => b.With(0, dy =>
            {
                b.Pass(0, dy);
                b.Accumulate(1, Ops.BiasGrad, new[] { dy, n.Operands[2] });
            }),
        },

        // Column sums of each expert's rows: the bias gradient, zero for an expert with no rows.
        new OpDef(Ops.BiasGrad, 2, 1, IterationSpace.WeightTiles, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            var experts = Constant(n, Rank(n, t[1], 1, 1).Shape[0], "offsets length") - 1;
            return new[] { TensorType.F32(experts, t[0].Shape[1]) };
        }),
        new OpDef(Ops.Combine, 5, 1, IterationSpace.TokenGather, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            SameShape(n, t[1], t[3]);
            return new[] { TensorType.F32(t[1].Shape[0], t[0].Shape[1]) };
        })
        {
            // out[t] = Σ_k g[t,k]·y[slot(t,k)]: d y[slot] = g·d out[t]; d g[t,k] = ⟨d out[t], y[slot]⟩, zero for a dropped choice.
            Gradient = static (n, b) => b.With(0, dout =>
            {
                b.Accumulate(0, Ops.CombineGradRows, new[] { dout, n.Operands[1], n.Operands[2], n.Operands[3], n.Operands[4] });
                b.Accumulate(2, Ops.CombineGradGates, new[] { dout, n.Operands[0], n.Operands[1], n.Operands[3], n.Operands[4] });
            }),
        },
        new OpDef(Ops.CombineGradRows, 5, 1, IterationSpace.Choices, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            SameShape(n, t[1], t[3]);
            return new[] { TensorType.F32(Dim.Sym("S"), t[0].Shape[1]) };
        }),
        new OpDef(Ops.CombineGradGates, 5, 1, IterationSpace.TokenGather, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Rows(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "row widths");
            SameShape(n, t[2], t[3]);
            return new[] { TensorType.F32(t[2].Shape.ToArray()) };
        }),
    }.Concat(Activations.All.SelectMany(a => new[] { Activation(a), ActivationGrad(a) }));


    /// <summary>An activation's op: elementwise, or gated (a row of 2·w in, [gate | up], a row of w out).</summary>
    private static OpDef Activation(ActivationDef a) => new(a.Op, 1, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
    {
        var x = Rows(n, t[0], 2, 0);
        if (!a.Gated)
        {
            return new[] { x };
        }

        var w = Constant(n, x.Shape[1], "width");
        if (w % 2 != 0)
        {
            throw new CompileException($"%{n.Name} = {a.Op}: width {w} must be even (gate and up halves)");
        }

        return new[] { TensorType.F32(x.Shape[0], w / 2) };
    }, OpRole.Epilogue, a)
    {
        Gradient = (n, b) => b.With(0, da => b.Accumulate(0, a.GradOp, new[] { n.Operands[0], da })),
    };

    /// <summary>
    /// d x = f′(x)·d a (gated: d gate = f′(gate)·up·d a, d up = f(gate)·d a), with f′ derived from
    /// the activation's formula; an epilogue of the GEMM that gives d a.
    /// </summary>
    private static OpDef ActivationGrad(ActivationDef a) => new(a.GradOp, 2, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
    {
        var x = Rows(n, t[0], 2, 0);
        var da = Rows(n, t[1], 2, 1);
        Same(n, x.Shape[0], da.Shape[0], "row counts");
        Same(n, x.Shape[1], Constant(n, da.Shape[1], "width") * a.Width, $"input width and {a.Width} × output width");
        return new[] { x };
    }, OpRole.Epilogue);
}
