using System.Collections.Generic;
using static Wudao.Compiler.Ir.ShapeRules;

namespace Wudao.Compiler.Ir;

/// <summary>The backward ops the model ops' gradient rules (in <see cref="ModelOpDefs"/>) emit.</summary>
internal static class ModelGradOpDefs
{
    private static readonly AttrDef[] Attention = { AttrDef.Int("heads"), AttrDef.Int("kv_heads"), AttrDef.Int("head_dim"), AttrDef.Flag("causal"), AttrDef.Flag("rope"), AttrDef.Float("rope_base", required: false), AttrDef.Int("max_seq", required: false) };

    public static IEnumerable<OpDef> All => new[]
    {
        // d table[v] = Σ over the tokens whose id is v of their row's cotangent, in token order.
        new OpDef(Ops.EmbedGrad, 2, 1, IterationSpace.WeightTiles, new[] { AttrDef.Int("vocab") }, (n, t) =>
        {
            var ids = Rank(n, t[0], 1, 0);
            Same(n, ids.Shape[0], Rows(n, t[1], 2, 1).Shape[0], "token dimensions");
            return new[] { TensorType.F32(n.IntAttr("vocab"), t[1].Shape[1]) };
        }),

        // y = γ·x·r, r = 1/√(mean x² + ε): dx = r·g − x·r³·⟨x, g⟩/d with g = γ·dy.
        new OpDef(Ops.RmsNormGrad, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { NormGrad(n, t) }),

        // dγ = Σ_t dy·x·r.
        new OpDef(Ops.RmsNormGradWeight, 2, 1, IterationSpace.WeightTiles, new[] { AttrDef.Float("eps") }, (n, t) => new[] { WeightGrad(n, t) }),

        // y = γ·x̂ + β, x̂ = (x − μ)·r: dx = r·(g − mean g − x̂·mean(g·x̂)) with g = γ·dy.
        new OpDef(Ops.LayerNormGrad, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { NormGrad(n, t) }),

        // dγ = Σ_t dy·x̂.
        new OpDef(Ops.LayerNormGradWeight, 2, 1, IterationSpace.WeightTiles, new[] { AttrDef.Float("eps") }, (n, t) => new[] { WeightGrad(n, t) }),

        // A bias's gradient: the column sums over every token.
        new OpDef(Ops.SumRows, 1, 1, IterationSpace.WeightTiles, new AttrDef[0], (n, t) => new[] { TensorType.F32(Rows(n, t[0], 2, 0).Shape[1]) }),

        // Per query and key head, the RMS norm's dx; the value heads' cotangents pass unchanged.
        new OpDef(Ops.QkNormGrad, 4, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("heads"), AttrDef.Int("kv_heads"), AttrDef.Float("eps") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[3]);
            return new[] { t[0] };
        }),

        // dγ of the query heads (part 0) or the key heads (part 1), summed over tokens and heads.
        new OpDef(Ops.QkNormGradWeight, 2, 1, IterationSpace.WeightTiles, new[] { AttrDef.Int("heads"), AttrDef.Int("kv_heads"), AttrDef.Float("eps"), AttrDef.Int("part") }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            var width = Constant(n, t[0].Shape[1], "qkv width");
            return new[] { TensorType.F32(width / (n.IntAttr("heads") + (2 * n.IntAttr("kv_heads")))) };
        }),

        // dQ, dK, dV in qkv's layout from (qkv, out, lse, d out): P = exp(S − LSE) recomputed tile by tile; RoPE's rotation undone on dQ and dK.
        new OpDef(Ops.AttentionGrad, 4, 1, IterationSpace.Sequences, Attention, (n, t) =>
        {
            var qkv = Rows(n, t[0], 2, 0);
            SameShape(n, Rows(n, t[1], 2, 1), t[3]);
            Same(n, qkv.Shape[0], t[1].Shape[0], "token dimensions");
            Same(n, Rows(n, t[2], 2, 2).Shape[1], n.IntAttr("heads"), "LSE columns and heads");
            return new[] { qkv };
        }),

        // Each query row's log-sum-exp of its scaled scores, per head: recomputed when the forward kept none.
        new OpDef(Ops.AttentionLse, 1, 1, IterationSpace.Sequences, Attention, (n, t) => new[] { TensorType.F32(Rows(n, t[0], 2, 0).Shape[0], n.IntAttr("heads")) }),

        // The MoE sub-layer's backward: its own derived backward, returning dx; its weights' gradients stay inside it.
        new OpDef(Ops.MoeGrad, 2, 1, IterationSpace.SubLayer, new[] { AttrDef.Text("layer"), AttrDef.Text("weights", required: false), AttrDef.Flag("by_ids", required: false), AttrDef.Flag("balance_bias", required: false) }, (n, t) =>
        {
            SameShape(n, Rows(n, t[0], 2, 0), t[1]);
            return new[] { t[0] };
        }),

        // A projection's dx = dy·Wᵀ: a dense GEMM, tiled like the forward's (the router's small dx is matmul_nt, per token).
        new OpDef(Ops.LinearDx, 2, 1, IterationSpace.DenseRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "output dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[0]) };
        }),

        // The dense MLP's hidden pre-activation x·W1 + b1, recomputed for its backward.
        new OpDef(Ops.DenseUp, 3, 1, IterationSpace.DenseRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            var w1 = Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], w1.Shape[0], "inner dimensions");
            Same(n, w1.Shape[1], Rank(n, t[2], 1, 2).Shape[0], "bias width");
            return new[] { TensorType.F32(t[0].Shape[0], w1.Shape[1]) };
        }),

        // d logits = (softmax(logits) − onehot(target))·d loss / T.
        new OpDef(Ops.CrossEntropyGrad, 3, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            Same(n, Rows(n, t[0], 2, 0).Shape[0], Rank(n, t[1], 1, 1).Shape[0], "token dimensions");
            Rank(n, t[2], 0, 2);
            return new[] { t[0] };
        }),
    };

    private static TensorType NormGrad(Node n, IReadOnlyList<TensorType> t)
    {
        var x = Rows(n, t[0], 2, 0);
        Same(n, x.Shape[1], Rank(n, t[1], 1, 1).Shape[0], "norm width");
        SameShape(n, x, t[2]);
        return x;
    }

    private static TensorType WeightGrad(Node n, IReadOnlyList<TensorType> t)
    {
        SameShape(n, Rows(n, t[0], 2, 0), t[1]);
        return TensorType.F32(t[0].Shape[1]);
    }
}
