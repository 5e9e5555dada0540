using System.Collections.Generic;
using System.Linq;
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
        })
        {
            // Rows gathered by id: their cotangents add into the rows of the table (ids learn nothing).
            Gradient = static (n, b) => b.With(0, dh => b.Accumulate(1, Ops.EmbedGrad, new[] { n.Operands[0], dh }, ("vocab", b.Type(n.Operands[1]).Shape[0].Value))),
        },
        new OpDef(Ops.RmsNorm, 2, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Norm(n, t, 1) })
        {
            Gradient = static (n, b) => b.With(0, dy => NormGradient(n, b, dy)),
        },
        new OpDef(Ops.LayerNorm, 3, 1, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) => new[] { Norm(n, t, 1) })
        {
            Gradient = static (n, b) => b.With(0, dy => NormGradient(n, b, dy)),
        },

        // The residual add fused with the next norm: the sum (the new residual) and its normalised rows.
        new OpDef(Ops.AddRmsNorm, 3, 2, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return new[] { t[0], Norm(n, t, 2) };
        })
        {
            Gradient = AddNormGradient,
        },
        new OpDef(Ops.AddLayerNorm, 4, 2, IterationSpace.TokenRows, new[] { AttrDef.Float("eps") }, (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return new[] { t[0], Norm(n, t, 2) };
        })
        {
            Gradient = AddNormGradient,
        },
        new OpDef(Ops.Linear, 2, 1, IterationSpace.DenseRows, new AttrDef[0], (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[0], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[1]) };
        })
        {
            // dx = dy·Wᵀ (a GEMM over all rows, as the forward's), dW = xᵀ·dy.
            Gradient = static (n, b) => b.With(0, dy =>
            {
                b.Accumulate(0, Ops.LinearDx, new[] { dy, n.Operands[1] });
                b.Accumulate(1, Ops.MatMulTn, new[] { n.Operands[0], dy });
            }),
        },

        // qkv [T, (heads + 2·kv_heads)·head_dim] → [T, heads·head_dim]; RoPE, when declared, on load.
        new OpDef(Ops.Attention, 1, 1, IterationSpace.Sequences, AttentionAttributes, (n, t) => new[] { AttentionOutput(n, t) })
        {
            // Differentiated outside training graphs: its LSE is recomputed first, then as attention_train.
            Gradient = static (n, b) => b.With(0, dout =>
            {
                var lse = b.Temp("lse", Ops.AttentionLse, new[] { n.Operands[0] }, Attributes(n));
                b.Accumulate(0, Ops.AttentionGrad, new[] { n.Operands[0], n.Results[0], lse, dout }, Attributes(n));
            }),
        },

        // Attention in a training graph: it also writes each query row's log-sum-exp per head, which the
        // backward keeps so that it recomputes P = exp(S − LSE) tile by tile and never stores it (FlashAttention-2).
        new OpDef(Ops.AttentionTrain, 1, 2, IterationSpace.Sequences, AttentionAttributes, (n, t) =>
        {
            var output = AttentionOutput(n, t);
            return new[] { output, TensorType.F32(output.Shape[0], n.IntAttr("heads")) };
        })
        {
            Gradient = static (n, b) => b.With(0, dout => b.Accumulate(0, Ops.AttentionGrad, new[] { n.Operands[0], n.Results[0], n.Results[1], dout }, Attributes(n))),
        },
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
        })
        {
            Gradient = static (n, b) => b.With(0, dy =>
            {
                (string, object)[] attrs = { ("heads", n.IntAttr("heads")), ("kv_heads", n.IntAttr("kv_heads")), ("eps", n.FloatAttr("eps")) };
                b.Accumulate(0, Ops.QkNormGrad, new[] { n.Operands[0], n.Operands[1], n.Operands[2], dy }, attrs);
                b.Accumulate(1, Ops.QkNormGradWeight, new[] { n.Operands[0], dy }, attrs.Append(("part", (object)0)).ToArray());
                b.Accumulate(2, Ops.QkNormGradWeight, new[] { n.Operands[0], dy }, attrs.Append(("part", (object)1)).ToArray());
            }),
        },

        // The sub-layer's backward is its own derived backward (its Info.TrainPlanText); its weights' gradients stay inside it.
        new OpDef(Ops.Moe, 1, 1, IterationSpace.SubLayer, new[] { AttrDef.Text("layer"), AttrDef.Text("weights", required: false), AttrDef.Flag("by_ids", required: false), AttrDef.Flag("balance_bias", required: false) }, (n, t) => new[] { Rows(n, t[0], 2, 0) })
        {
            Gradient = static (n, b) => b.With(0, dy => b.Accumulate(0, Ops.MoeGrad, new[] { n.Operands[0], dy }, Attributes(n))),
        },

        // up (+ bias), activation, down (+ bias): a dense expert, one fused MLP.
        new OpDef(Ops.DenseFfn, 5, 1, IterationSpace.DenseRows, new[] { AttrDef.Text("activation") }, (n, t) =>
        {
            Rows(n, t[0], 2, 0);
            var w1 = Weight(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], w1.Shape[0], "inner dimensions");
            var act = Activations.ByOp(n.Attr("activation")!);
            Same(n, w1.Shape[1], Constant(n, Weight(n, t[3], 2, 3).Shape[0], "hidden width") * act.Width, $"up width and hidden width × {act.Width} ({act.Op})");
            return new[] { t[0] };
        })
        {
            Gradient = DenseFfnGradient,
        },

        // The next token from the last row of logits [T, V]. Its options (temperature, top-k, top-p,
        // seed, step) are run-time arguments, as a MoE block's Training is: one compiled sampler serves all.
        new OpDef(Ops.Sample, 1, 1, IterationSpace.VocabRow, new AttrDef[0], (n, t) =>
        {
            Constant(n, Rows(n, t[0], 2, 0).Shape[1], "vocabulary");
            return new[] { TensorType.I32(1) };
        })
        {
            Gradient = Gradients.None,
        },

        // Training's loss: the mean over tokens of −log softmax(logits)[target].
        new OpDef(Ops.CrossEntropy, 2, 1, IterationSpace.TokenScan, new AttrDef[0], (n, t) =>
        {
            Same(n, Rows(n, t[0], 2, 0).Shape[0], Rank(n, t[1], 1, 1).Shape[0], "token dimensions");
            return new[] { TensorType.F32() };
        })
        {
            Gradient = static (n, b) => b.With(0, dl => b.Accumulate(0, Ops.CrossEntropyGrad, new[] { n.Operands[0], n.Operands[1], dl })),
        },
    };

    private static readonly AttrDef[] AttentionAttributes = { AttrDef.Int("heads"), AttrDef.Int("kv_heads"), AttrDef.Int("head_dim"), AttrDef.Flag("causal"), AttrDef.Flag("rope"), AttrDef.Float("rope_base", required: false), AttrDef.Int("max_seq", required: false) };

    private static (string, object)[] Attributes(Node n) => n.Attributes.Select(a => (a.Key, (object)a.Value)).ToArray();

    /// <summary>qkv [T, (heads + 2·kv_heads)·head_dim] → [T, heads·head_dim].</summary>
    private static TensorType AttentionOutput(Node n, IReadOnlyList<TensorType> t)
    {
        var qkv = Rows(n, t[0], 2, 0);
        int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = n.IntAttr("head_dim");
        if (heads < 1 || kv < 1 || heads % kv != 0)
        {
            throw new CompileException($"%{n.Name} = {n.Op}: kv_heads={kv} must divide heads={heads}");
        }

        Same(n, qkv.Shape[1], (heads + (2 * kv)) * hd, "qkv width");
        return TensorType.F32(qkv.Shape[0], heads * hd);
    }

    /// <summary>A norm's input and weight cotangents: dx through the norm, dγ (and dβ) summed over the tokens.</summary>
    private static void NormGradient(Node n, IGradientBuilder b, string dy)
    {
        WeightGradients(n, b, n.Operands[0], dy, 1);
        b.Accumulate(0, IsLayer(n) ? Ops.LayerNormGrad : Ops.RmsNormGrad, new[] { n.Operands[0], n.Operands[1], dy }, ("eps", n.FloatAttr("eps")));
    }

    /// <summary>h = a + b, y = norm(h): h's cotangent plus the norm's, summed once, reaches both summands.</summary>
    private static void AddNormGradient(Node n, IGradientBuilder b)
    {
        string? through = null;
        b.With(1, dy =>
        {
            WeightGradients(n, b, n.Results[0], dy, 2);
            through = b.Temp("dnorm", IsLayer(n) ? Ops.LayerNormGrad : Ops.RmsNormGrad, new[] { n.Results[0], n.Operands[2], dy }, ("eps", n.FloatAttr("eps")));
        });
        var dh = b.Cotangent(0);
        var total = dh == null ? through : through == null ? dh : b.Temp("dsum", Ops.Add, new[] { dh, through });
        if (total != null)
        {
            b.Pass(0, total);
            b.Pass(1, total);
        }
    }

    /// <summary>dγ = Σ_t dy·x̂ (and dβ = Σ_t dy) of a norm whose γ is operand <paramref name="weight"/>.</summary>
    private static void WeightGradients(Node n, IGradientBuilder b, string x, string dy, int weight)
    {
        b.Accumulate(weight, IsLayer(n) ? Ops.LayerNormGradWeight : Ops.RmsNormGradWeight, new[] { x, dy }, ("eps", n.FloatAttr("eps")));
        if (IsLayer(n))
        {
            b.Accumulate(weight + 1, Ops.SumRows, new[] { dy });
        }
    }

    private static bool IsLayer(Node n) => n.Op is Ops.LayerNorm or Ops.AddLayerNorm;

    /// <summary>
    /// The fused MLP's backward, unfused: the hidden pre-activation is recomputed (one GEMM)
    /// rather than saved, then each GEMM's and bias's rules in reverse.
    /// </summary>
    private static void DenseFfnGradient(Node n, IGradientBuilder b) => b.With(0, dy =>
    {
        var act = Activations.ByOp(n.Attr("activation")!);
        var hb = b.Temp("hb", Ops.DenseUp, new[] { n.Operands[0], n.Operands[1], n.Operands[2] });
        var a = b.Temp("a", act.Op, new[] { hb });
        b.Accumulate(4, Ops.SumRows, new[] { dy });
        b.Accumulate(3, Ops.MatMulTn, new[] { a, dy });
        var da = b.Temp("da", Ops.LinearDx, new[] { dy, n.Operands[3] });
        var dhb = b.Temp("dhb", act.GradOp, new[] { hb, da });
        b.Accumulate(2, Ops.SumRows, new[] { dhb });
        b.Accumulate(1, Ops.MatMulTn, new[] { n.Operands[0], dhb });
        b.Accumulate(0, Ops.LinearDx, new[] { dhb, n.Operands[1] });
    });
}
