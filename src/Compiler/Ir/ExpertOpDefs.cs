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
        }),
        new OpDef(Ops.GroupedMatMul, 3, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 3, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[2]) };
        }),
        new OpDef(Ops.Bias, 3, 1, IterationSpace.ExpertRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "bias width");
            return new[] { t[0] };
        }, OpRole.Epilogue),
        new OpDef(Ops.Combine, 5, 1, IterationSpace.TokenGather, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            SameShape(n, t[1], t[3]);
            return new[] { TensorType.F32(t[1].Shape[0], t[0].Shape[1]) };
        }),
    }.Concat(Activations.All.Select(Activation));

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
    }, OpRole.Epilogue, a);
}
