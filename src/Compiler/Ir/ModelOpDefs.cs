using System.Collections.Generic;
using static Wudao.Compiler.Ir.ShapeRules;

namespace Wudao.Compiler.Ir;

/// <summary>A decoder-only transformer's ops around the MoE feed-forward.</summary>
internal static class ModelOpDefs
{
    public static IEnumerable<OpDef> All => new[]
    {
        new OpDef(Ops.Embed, 2, 1, IterationSpace.TokenRows, new AttrDef[0], (n, t) =>
        {
            var ids = Rank(n, t[0], 1, 0);
            Weight(n, t[1], 2, 1);
            return new[] { TensorType.F32(ids.Shape[0], t[1].Shape[1]) };
        }),
        new OpDef(Ops.RmsNorm, 2, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Norm(n, t, 1) }),
        new OpDef(Ops.LayerNorm, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Norm(n, t, 1) }),

        // The residual add fused with the next norm: the sum (the new residual) and its normalised rows.
        new OpDef(Ops.AddRmsNorm, 3, 2, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return new[] { t[0], Norm(n, t, 2) };
        }),
        new OpDef(Ops.AddLayerNorm, 4, 2, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return new[] { t[0], Norm(n, t, 2) };
        }),
        new OpDef(Ops.Linear, 2, 1, IterationSpace.DenseRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[0], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[1]) };
        }),

        // qkv [T, (heads + 2·kv_heads)·head_dim] → [T, heads·head_dim]; RoPE, when declared, on load.
        new OpDef(Ops.Attention, 1, 1, IterationSpace.Sequences, new[] { AttrDef.Int("heads"), AttrDef.Int("kv_heads"), AttrDef.Int("head_dim"), AttrDef.Flag("causal"), AttrDef.Flag("rope"), AttrDef.Float("rope_base", required: false), AttrDef.Int("max_seq", required: false) }, (n, t) =>
        {
            var qkv = Rows(n, t[0], 2, 0);
            int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = n.IntAttr("head_dim");
            if (heads < 1 || kv < 1 || heads % kv != 0)
            {
                throw new CompileException($"%{n.Name} = attention: kv_heads={kv} must divide heads={heads}");
            }

            Same(n, qkv.Shape[1], (heads + (2 * kv)) * hd, "qkv width");
            return new[] { TensorType.F32(qkv.Shape[0], heads * hd) };
        }),
        // Per-head RMSNorm of the query and key heads of fused qkv rows (own γ each, [head_dim]); the value heads pass unchanged.
        new OpDef(Ops.QkNorm, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Int("heads"), AttrDef.Int("kv_heads"), AttrDef.Float("eps") }, (n, t) =>
        {
            var qkv = Rows(n, t[0], 2, 0);
            int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads");
            var width = Constant(n, qkv.Shape[1], "qkv width");
            if (heads < 1 || kv < 1 || width % (heads + (2 * kv)) != 0)
            {
                throw new CompileException($"%{n.Name} = qk_norm: qkv width {width} is not (heads + 2·kv_heads) = {heads + (2 * kv)} heads of one width");
            }

            var hd = Dim.Of(width / (heads + (2 * kv)));
            Same(n, Rank(n, t[1], 1, 1).Shape[0], hd, "query γ and head dim");
            Same(n, Rank(n, t[2], 1, 2).Shape[0], hd, "key γ and head dim");
            return new[] { qkv };
        }),
        new OpDef(Ops.Moe, 1, 1, IterationSpace.SubLayer, new[] { AttrDef.Text("layer"), AttrDef.Text("weights", required: false), AttrDef.Flag("by_ids", required: false), AttrDef.Flag("balance_bias", required: false) }, (n, t) => new[] { Rows(n, t[0], 2, 0) }),

        // up (+ bias), activation, down (+ bias): a dense expert, one fused MLP.
        new OpDef(Ops.DenseFfn, 5, 1, IterationSpace.DenseRows, new[] { AttrDef.Text("activation") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            var w1 = Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], w1.Shape[0], "inner dimensions");
            var act = Activations.ByOp(n.Attr("activation")!);
            Same(n, w1.Shape[1], Constant(n, Weight(n, t[3], 2, 3).Shape[0], "hidden width") * act.Width, $"up width and hidden width × {act.Width} ({act.Op})");
            return new[] { t[0] };
        }),

        // The next token from the last row of logits [T, V]. Its options (temperature, top-k, top-p,
        // seed, step) are run-time arguments, as a MoE block's Training is: one compiled sampler serves all.
        new OpDef(Ops.Sample, 1, 1, IterationSpace.VocabRow, new AttrDef[0], (n, t) =>
        {
            Constant(n, Rows(n, t[0], 2, 0).Shape[1], "vocabulary");
            return new[] { TensorType.I32(1) };
        }),
    };
}
