using System.Collections.Generic;
using static Wudao.Compiler.Ir.ShapeRules;

namespace Wudao.Compiler.Ir;

/// <summary>The gates' ops: per-token work on router logits (one thread per token).</summary>
internal static class RouterOpDefs
{
    public static IEnumerable<OpDef> All => new[]
    {
        new OpDef(Ops.MatMul, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[0], "inner dimensions");
            Constant(n, t[1].Shape[1], "output width");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[1]) };
        })
        {
            // y = x·W: dx = dy·Wᵀ, dW = xᵀ·dy (summed over the tokens).
            Gradient = static (n, b) => b.With(0, dy =>
            {
                b.Accumulate(0, Ops.MatMulNt, new[] { dy, n.Operands[1] });
                b.Accumulate(1, Ops.MatMulTn, new[] { n.Operands[0], dy });
            }),
        },
        new OpDef(Ops.MatMulNt, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[0]) };
        }),

        // A weight's gradient: a reduction over every token of the batch.
        new OpDef(Ops.MatMulTn, 2, 1, IterationSpace.WeightTiles, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Rows(n, t[1], 2, 1);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32(t[0].Shape[1], t[1].Shape[1]) };
        }),
        new OpDef(Ops.Softmax, 1, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("axis") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            if (n.IntAttr("axis") != 1)
            {
                throw new CompileException($"%{n.Name} = softmax: only axis=1 (over experts) is supported");
            }

            return new[] { t[0] };
        })
        {
            // dx = p ⊙ (dp − ⟨dp, p⟩), per token.
            Gradient = static (n, b) => b.With(0, dp => b.Accumulate(0, Ops.SoftmaxGrad, new[] { n.Results[0], dp })),
        },
        new OpDef(Ops.SoftmaxGrad, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Pair(n, t) }),
        new OpDef(Ops.TopK, 1, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("k") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            var k = n.IntAttr("k");
            TopK(n, k, Constant(n, t[0].Shape[1], "expert count"));
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        })
        {
            // The chosen values are gathered: their cotangents scatter back to the chosen columns; the choice itself has no gradient.
            Gradient = TopKGradient,
        },
        new OpDef(Ops.TopKGrad, 2, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("experts") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            return new[] { TensorType.F32(t[0].Shape[0], n.IntAttr("experts")) };
        }),

        // g = w / Σw: dw_j = (dg_j − ⟨dg, g⟩) / Σw.
        new OpDef(Ops.Renorm, 1, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Rows(n, t[0], 2, 0) })
        {
            Gradient = static (n, b) => b.With(0, dg => b.Accumulate(0, Ops.RenormGrad, new[] { n.Operands[0], dg })),
        },
        new OpDef(Ops.RenormGrad, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Pair(n, t) }),

        // Only an index is dropped: the gates pass unchanged (a dropped choice's gate gets no gradient from combine).
        new OpDef(Ops.SecondDrop, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            Same(n, t[0].Shape[1], 2, "choices per token (second_drop is for top-2)");
            SameShape(n, t[0], t[1]);
            return new[] { t[1] };
        })
        {
            Gradient = Gradients.None,
        },
        new OpDef(Ops.Jitter, 1, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Rows(n, t[0], 2, 0) })
        {
            // x' = x·u, u the forward's draw: dx = dx'·u, the same draws made again from the layer's seed and step.
            Gradient = static (n, b) => b.With(0, d => b.Accumulate(0, Ops.JitterGrad, new[] { d }, ("eps", n.FloatAttr("eps")))),
        },
        new OpDef(Ops.JitterGrad, 1, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Rows(n, t[0], 2, 0) }),
        new OpDef(Ops.LogSumExp, 1, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { TensorType.F32(Rows(n, t[0], 2, 0).Shape[0]) })
        {
            // d logits = softmax(logits)·d lse = exp(logits − lse)·d lse.
            Gradient = static (n, b) => b.With(0, dl => b.Accumulate(0, Ops.LogSumExpGrad, new[] { n.Operands[0], n.Results[0], dl })),
        },
        new OpDef(Ops.LogSumExpGrad, 3, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            Same(n, Rows(n, t[0], 2, 0).Shape[0], Rank(n, t[1], 1, 1).Shape[0], "token dimensions");
            SameShape(n, t[1], t[2]);
            return new[] { t[0] };
        }),

        // noisy top-k: H = logits + ε·softplus(raw), ε ~ N(0,1) by the counter RNG.
        new OpDef(Ops.Noisy, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            return new[] { t[0] };
        })
        {
            // d logits = dH; d raw = dH·ε·softplus′(raw), ε recovered as (H − logits)/softplus(raw): no draw is repeated.
            Gradient = static (n, b) => b.With(0, dh =>
            {
                b.Pass(0, dh);
                b.Accumulate(1, Ops.NoisyGrad, new[] { dh, n.Operands[0], n.Operands[1], n.Results[0] });
            }),
        },
        new OpDef(Ops.NoisyGrad, 4, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Same4(n, t) }),

        // Shazeer's smooth load estimator P(x, e) = Φ((logits_e − kth_excl(H, k, e)) / softplus(raw_e)).
        new OpDef(Ops.LoadProb, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("k") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            SameShape(n, t[0], t[2]);
            return new[] { t[0] };
        })
        {
            // Through z = (logits_e − threshold_e)/σ_e: to logits_e, to raw_e through σ, and to the H entry that is the threshold.
            Gradient = static (n, b) => b.With(0, dp =>
            {
                for (var part = 0; part < 3; part++)
                {
                    b.Accumulate(part, Ops.LoadProbGrad, new[] { dp, n.Operands[0], n.Operands[1], n.Operands[2] }, ("k", n.IntAttr("k")), ("part", part));
                }
            }),
        },
        new OpDef(Ops.LoadProbGrad, 4, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("k"), AttrDef.Int("part") }, (n, t) => new[] { Same4(n, t) }),
        new OpDef(Ops.HashRoute, 1, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("experts") }, (n, t) =>
        {
            var ids = Rank(n, t[0], 1, 0);
            if (ids.DType != DType.I32)
            {
                throw new CompileException($"%{n.Name} = hash_route: token ids must be i32, got {ids}");
            }

            return new[] { TensorType.F32(ids.Shape[0], 1), TensorType.I32(ids.Shape[0], 1) };
        })
        {
            // Routing by token id: the gate is the constant 1, nothing learns.
            Gradient = Gradients.None,
        },
        new OpDef(Ops.Sigmoid, 1, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Rows(n, t[0], 2, 0) })
        {
            Gradient = static (n, b) => b.With(0, ds => b.Accumulate(0, Ops.SigmoidGrad, new[] { n.Results[0], ds })),
        },

        // dx = s·(1 − s)·ds from the saved scores s.
        new OpDef(Ops.SigmoidGrad, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Pair(n, t) }),

        // top-k chosen on score + bias; the values returned are the scores without the bias. The bias
        // learns by its sign rule at rate γ, not by gradient (DeepSeek-V3's aux-loss-free balancing).
        new OpDef(Ops.TopKBiased, 2, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("k"), AttrDef.Float("rate", required: false) }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Same(n, t[0].Shape[1], Rank(n, t[1], 1, 1).Shape[0], "expert counts");
            var k = n.IntAttr("k");
            TopK(n, k, Constant(n, t[0].Shape[1], "expert count"));
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        })
        {
            // As top-k; the bias only chooses, so it gets no gradient.
            Gradient = TopKGradient,
        },

        // Shared experts routed..routed+shared−1 appended to every token's choices with gate 1.
        new OpDef(Ops.AppendShared, 2, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("routed"), AttrDef.Int("shared") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            var k = Constant(n, t[0].Shape[1], "choices") + n.IntAttr("shared");
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        })
        {
            // The shared experts' gates are the constant 1: the routed gates' cotangents are the first columns.
            Gradient = static (n, b) => b.With(0, dg => b.Accumulate(0, Ops.AppendSharedGrad, new[] { dg }, ("shared", n.IntAttr("shared")))),
        },
        new OpDef(Ops.AppendSharedGrad, 1, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("shared") }, (n, t) =>
        {
            var dg = Rows(n, t[0], 2, 0);
            return new[] { TensorType.F32(dg.Shape[0], Constant(n, dg.Shape[1], "choices") - n.IntAttr("shared")) };
        }),
    };

    private static TensorType Same4(Node n, IReadOnlyList<TensorType> t)
    {
        for (var i = 1; i < 4; i++)
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[i]);
        }

        return t[0];
    }

    private static void TopKGradient(Node n, IGradientBuilder b) =>
        b.With(0, dv => b.Accumulate(0, Ops.TopKGrad, new[] { dv, n.Results[1] }, ("experts", Constant(n, b.Type(n.Operands[0]).Shape[1], "expert count"))));
}
