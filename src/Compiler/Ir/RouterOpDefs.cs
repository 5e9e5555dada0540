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
        }),
        new OpDef(Ops.Softmax, 1, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("axis") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            if (n.IntAttr("axis") != 1)
            {
                throw new CompileException($"%{n.Name} = softmax: only axis=1 (over experts) is supported");
            }

            return new[] { t[0] };
        }),
        new OpDef(Ops.TopK, 1, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("k") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            var k = n.IntAttr("k");
            TopK(n, k, Constant(n, t[0].Shape[1], "expert count"));
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        }),
        new OpDef(Ops.Renorm, 1, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Rows(n, t[0], 2, 0) }),
        new OpDef(Ops.SecondDrop, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            Same(n, t[0].Shape[1], 2, "choices per token (second_drop is for top-2)");
            SameShape(n, t[0], t[1]);
            return new[] { t[1] };
        }),
        new OpDef(Ops.Jitter, 1, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Rows(n, t[0], 2, 0) }),
        new OpDef(Ops.LogSumExp, 1, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { TensorType.F32(Rows(n, t[0], 2, 0).Shape[0]) }),

        // noisy top-k: H = logits + ε·softplus(raw), ε ~ N(0,1) by the counter RNG.
        new OpDef(Ops.Noisy, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            return new[] { t[0] };
        }),

        // Shazeer's smooth load estimator P(x, e) = Φ((logits_e − kth_excl(H, k, e)) / softplus(raw_e)).
        new OpDef(Ops.LoadProb, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("k") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            SameShape(n, t[0], t[2]);
            return new[] { t[0] };
        }),
        new OpDef(Ops.HashRoute, 1, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("experts") }, (n, t) =>
        {
            var ids = Rank(n, t[0], 1, 0);
            if (ids.DType != DType.I32)
            {
                throw new CompileException($"%{n.Name} = hash_route: token ids must be i32, got {ids}");
            }

            return new[] { TensorType.F32(ids.Shape[0], 1), TensorType.I32(ids.Shape[0], 1) };
        }),
        new OpDef(Ops.Sigmoid, 1, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) => new[] { Rows(n, t[0], 2, 0) }),

        // top-k chosen on score + bias; the values returned are the scores without the bias. The bias
        // learns by its sign rule at rate γ, not by gradient (DeepSeek-V3's aux-loss-free balancing).
        new OpDef(Ops.TopKBiased, 2, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("k"), AttrDef.Float("rate", required: false) }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Same(n, t[0].Shape[1], Rank(n, t[1], 1, 1).Shape[0], "expert counts");
            var k = n.IntAttr("k");
            TopK(n, k, Constant(n, t[0].Shape[1], "expert count"));
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        }),

        // Shared experts routed..routed+shared−1 appended to every token's choices with gate 1.
        new OpDef(Ops.AppendShared, 2, 2, IterationSpace.TokenRows, new[] { AttrDef.Int("routed"), AttrDef.Int("shared") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            var k = Constant(n, t[0].Shape[1], "choices") + n.IntAttr("shared");
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        }),
    };
}
