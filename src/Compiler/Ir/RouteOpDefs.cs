using System.Collections.Generic;
using System.Linq;
using static Wudao.Compiler.Ir.ShapeRules;

namespace Wudao.Compiler.Ir;

/// <summary>The route's ops: ordered passes over the whole batch (capacity, scans, losses).</summary>
internal static class RouteOpDefs
{
    public static IEnumerable<OpDef> All => new[]
    {
        // routed: experts past it (DeepSeek's shared ones) are exempt from the capacity.
        new OpDef(Ops.Capacity, 1, 3, IterationSpace.TokenScan, new[] { AttrDef.Int("experts"), AttrDef.Float("factor"), AttrDef.Int("routed", required: false) }, (n, t) =>
        {
            var choices = Rank(n, t[0], 2, 0);
            var e = n.IntAttr("experts");
            if (e < 1)
            {
                throw new CompileException($"%{n.Name} = capacity: experts={e} must be at least 1");
            }

            return new[] { TensorType.I32(choices.Shape.ToArray()), TensorType.I32(e), TensorType.I32() };
        })
        {
            Gradient = Gradients.None,
        },
        // Tokens whose input row holds a NaN or an infinity, counted for the statistics.
        new OpDef(Ops.NonFinite, 1, 1, IterationSpace.TokenScan, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            return new[] { TensorType.I32() };
        })
        {
            Gradient = Gradients.None,
        },
        new OpDef(Ops.Scan, 1, 1, IterationSpace.TokenScan, new AttrDef[0], (n, t) =>
        {
            var e = Constant(n, Rank(n, t[0], 1, 0).Shape[0], "length");
            return new[] { TensorType.I32(e + 1) };
        })
        {
            Gradient = Gradients.None,
        },
        new OpDef(Ops.AuxLoss, 2, 1, IterationSpace.TokenScan, new[] { AttrDef.Float("alpha") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Rank(n, t[1], 2, 1);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32() };
        })
        {
            // Through P only: f counts first choices, a constant (Switch, GShard).
            Gradient = static (n, b) => b.With(0, dl => b.Accumulate(0, Ops.AuxLossGrad, new[] { dl, n.Operands[0], n.Operands[1] }, ("alpha", n.FloatAttr("alpha")))),
        },

        // d probs[t,e] = d aux · α·E·f_e / T, f_e the share of tokens whose first choice is e.
        new OpDef(Ops.AuxLossGrad, 3, 1, IterationSpace.TokenScan, new[] { AttrDef.Float("alpha") }, (n, t) =>
        {
            Rank(n, t[0], 0, 0);
            Rows(n, t[1], 2, 1);
            Same(n, t[1].Shape[0], Rank(n, t[2], 2, 2).Shape[0], "token dimensions");
            return new[] { t[1] };
        }),
        new OpDef(Ops.ZLoss, 1, 1, IterationSpace.TokenScan, new[] { AttrDef.Float("weight") }, (n, t) =>
        {
            Rows(n, t[0], 1, 0);
            return new[] { TensorType.F32() };
        })
        {
            Gradient = static (n, b) => b.With(0, dz => b.Accumulate(0, Ops.ZLossGrad, new[] { dz, n.Operands[0] }, ("weight", n.FloatAttr("weight")))),
        },

        // z = w·mean(lse²): d lse[t] = d z · 2·w·lse[t] / T.
        new OpDef(Ops.ZLossGrad, 2, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("weight") }, (n, t) =>
        {
            Rank(n, t[0], 0, 0);
            return new[] { Rows(n, t[1], 1, 1) };
        }),

        // CV² of importance (gates summed per expert) and of load (load_prob summed per expert), weighted.
        new OpDef(Ops.NoisyLoss, 3, 2, IterationSpace.TokenScan, new[] { AttrDef.Float("importance"), AttrDef.Float("load") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32(), TensorType.F32() };
        })
        {
            // w·CV²(x): d x_e = w·(2(x_e − μ)/(n − 1) − V·2μ/(n·M))/M with V the variance, M = μ² + 1e-10; importance's
            // x_e sums the gates choosing e, load's sums P(·, e).
            Gradient = static (n, b) =>
            {
                var experts = Constant(n, b.Type(n.Operands[0]).Shape[1], "expert count");
                b.With(0, di => b.Accumulate(1, Ops.ImportanceLossGrad, new[] { di, n.Operands[1], n.Operands[2] }, ("weight", n.FloatAttr("importance")), ("experts", experts)));
                b.With(1, dl => b.Accumulate(0, Ops.LoadLossGrad, new[] { dl, n.Operands[0] }, ("weight", n.FloatAttr("load"))));
            },
        },
        new OpDef(Ops.ImportanceLossGrad, 3, 1, IterationSpace.TokenScan, new[] { AttrDef.Float("weight"), AttrDef.Int("experts") }, (n, t) =>
        {
            Rank(n, t[0], 0, 0);
            SameShape(n, Rows(n, t[1], 2, 1), t[2]);
            return new[] { t[1] };
        }),
        new OpDef(Ops.LoadLossGrad, 2, 1, IterationSpace.TokenScan, new[] { AttrDef.Float("weight") }, (n, t) =>
        {
            Rank(n, t[0], 0, 0);
            return new[] { Rows(n, t[1], 2, 1) };
        }),

        // Every expert takes its top-C tokens by score: per-token choice slots over all E experts.
        new OpDef(Ops.ExpertChoice, 1, 5, IterationSpace.TokenScan, new[] { AttrDef.Float("factor") }, (n, t) =>
        {
            var probs = Rows(n, t[0], 2, 0);
            var e = Constant(n, probs.Shape[1], "expert count");
            var shape = probs.Shape.ToArray();
            return new[] { TensorType.I32(shape), TensorType.F32(shape), TensorType.I32(shape), TensorType.I32(e), TensorType.I32() };
        })
        {
            // A chosen (token, expert)'s gate is its probability; the choice itself has no gradient.
            Gradient = static (n, b) => b.With(1, dg => b.Accumulate(0, Ops.ExpertChoiceGrad, new[] { dg, n.Results[2] })),
        },
        new OpDef(Ops.ExpertChoiceGrad, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            return new[] { t[0] };
        }),
    };
}
