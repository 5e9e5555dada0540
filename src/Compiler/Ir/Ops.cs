using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir;

/// <summary>The op set of Wudao's IR and each op's shape rule.</summary>
public static class Ops
{
    public const string Param = "param";
    public const string MatMul = "matmul";
    public const string Softmax = "softmax";
    public const string TopK = "topk";
    public const string Renorm = "renorm";
    public const string SecondDrop = "second_drop";
    public const string Capacity = "capacity";
    public const string Scan = "scan";
    public const string AuxLoss = "aux_loss";
    public const string Dispatch = "dispatch";
    public const string GroupedMatMul = "grouped_matmul";
    public const string Bias = "bias";
    public const string Gelu = "gelu";
    public const string Relu = "relu";
    public const string Silu = "silu";
    public const string SwiGlu = "swiglu";
    public const string Combine = "combine";
    public const string Jitter = "jitter";
    public const string LogSumExp = "logsumexp";
    public const string ZLoss = "z_loss";
    public const string Noisy = "noisy";
    public const string LoadProb = "load_prob";
    public const string NoisyLoss = "noisy_loss";
    public const string ExpertChoice = "expert_choice";
    public const string HashRoute = "hash_route";
    public const string Sigmoid = "sigmoid";
    public const string TopKBiased = "topk_biased";
    public const string AppendShared = "append_shared";
    public const string Embed = "embed";
    public const string RmsNorm = "rms_norm";
    public const string LayerNorm = "layer_norm";
    public const string AddRmsNorm = "add_rms_norm";
    public const string AddLayerNorm = "add_layer_norm";
    public const string Linear = "linear";
    public const string Attention = "attention";
    public const string Moe = "moe";
    public const string DenseFfn = "dense_ffn";

    private static readonly Dictionary<string, OpInfo> Table = new[]
    {
        new OpInfo(Param, 0, 1, IterationSpace.None, new[] { "name", "fan_in" }, (n, _) => throw new CompileException($"%{n.Name} = param needs an explicit type")),
        new OpInfo(MatMul, 2, 1, IterationSpace.TokenRows, new string[0], (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Rank(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[0], "inner dimensions");
            Constant(n, t[1].Shape[1], "output width");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[1]) };
        }),
        new OpInfo(Softmax, 1, 1, IterationSpace.TokenRows, new[] { "axis" }, (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            if (n.IntAttr("axis") != 1)
            {
                throw new CompileException($"%{n.Name} = softmax: only axis=1 (over experts) is supported");
            }

            return new[] { t[0] };
        }),
        new OpInfo(TopK, 1, 2, IterationSpace.TokenRows, new[] { "k" }, (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            var k = n.IntAttr("k");
            var e = Constant(n, t[0].Shape[1], "expert count");
            if (k < 1 || k > e)
            {
                throw new CompileException($"%{n.Name} = topk: k={k} must be in 1..{e}");
            }

            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        }),
        new OpInfo(Renorm, 1, 1, IterationSpace.TokenRows, new string[0], (n, t) => new[] { Rank(n, t[0], 2, 0) }),
        new OpInfo(SecondDrop, 2, 1, IterationSpace.TokenRows, new string[0], (n, t) =>
        {
            Same(n, t[0].Shape[1], 2, "choices per token (second_drop is for top-2)");
            SameShape(n, t[0], t[1]);
            return new[] { t[1] };
        }),
        new OpInfo(Capacity, 1, 3, IterationSpace.TokenScan, new[] { "experts", "factor" }, (n, t) =>
        {
            var choices = Rank(n, t[0], 2, 0);
            var e = n.IntAttr("experts");
            if (e < 1)
            {
                throw new CompileException($"%{n.Name} = capacity: experts={e} must be at least 1");
            }

            return new[] { TensorType.I32(choices.Shape.ToArray()), TensorType.I32(e), TensorType.I32() };
        }),
        new OpInfo(Scan, 1, 1, IterationSpace.TokenScan, new string[0], (n, t) =>
        {
            var e = Constant(n, Rank(n, t[0], 1, 0).Shape[0], "length");
            return new[] { TensorType.I32(e + 1) };
        }),
        new OpInfo(AuxLoss, 2, 1, IterationSpace.TokenScan, new[] { "alpha" }, (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Rank(n, t[1], 2, 1);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32() };
        }),
        new OpInfo(Dispatch, 4, 1, IterationSpace.Choices, new string[0], (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32(Dim.Sym("S"), t[0].Shape[1]) };
        }),
        new OpInfo(GroupedMatMul, 3, 1, IterationSpace.ExpertRows, new string[0], (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Rank(n, t[1], 3, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[2]) };
        }),
        new OpInfo(Bias, 3, 1, IterationSpace.ExpertRows, new string[0], (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Rank(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[1], "bias width");
            return new[] { t[0] };
        }),
        new OpInfo(Gelu, 1, 1, IterationSpace.ExpertRows, new string[0], (n, t) => new[] { t[0] }),
        new OpInfo(Relu, 1, 1, IterationSpace.ExpertRows, new string[0], (n, t) => new[] { t[0] }),
        new OpInfo(Silu, 1, 1, IterationSpace.ExpertRows, new string[0], (n, t) => new[] { t[0] }),
        new OpInfo(SwiGlu, 1, 1, IterationSpace.ExpertRows, new string[0], (n, t) =>
        {
            var w = Constant(n, Rank(n, t[0], 2, 0).Shape[1], "width");
            if (w % 2 != 0)
            {
                throw new CompileException($"%{n.Name} = swiglu: width {w} must be even (gate and up halves)");
            }

            return new[] { TensorType.F32(t[0].Shape[0], w / 2) };
        }),
        new OpInfo(Jitter, 1, 1, IterationSpace.TokenRows, new[] { "eps" }, (n, t) => new[] { Rank(n, t[0], 2, 0) }),
        new OpInfo(LogSumExp, 1, 1, IterationSpace.TokenRows, new string[0], (n, t) => new[] { TensorType.F32(Rank(n, t[0], 2, 0).Shape[0]) }),
        new OpInfo(ZLoss, 1, 1, IterationSpace.TokenScan, new[] { "weight" }, (n, t) =>
        {
            Rank(n, t[0], 1, 0);
            return new[] { TensorType.F32() };
        }),
        // noisy top-k: H = logits + ε·softplus(raw), ε ~ N(0,1) by the counter RNG.
        new OpInfo(Noisy, 2, 1, IterationSpace.TokenRows, new string[0], (n, t) =>
        {
            SameShape(n, Rank(n, t[0], 2, 0), t[1]);
            return new[] { t[0] };
        }),

        // Shazeer's smooth load estimator P(x, e) = Φ((logits_e − kth_excl(H, k, e)) / softplus(raw_e)).
        new OpInfo(LoadProb, 3, 1, IterationSpace.TokenRows, new[] { "k" }, (n, t) =>
        {
            SameShape(n, Rank(n, t[0], 2, 0), t[1]);
            SameShape(n, t[0], t[2]);
            return new[] { t[0] };
        }),

        // CV² of importance (gates summed per expert) and of load (load_prob summed per expert), weighted.
        new OpInfo(NoisyLoss, 3, 2, IterationSpace.TokenScan, new[] { "importance", "load" }, (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            Same(n, t[0].Shape[0], t[1].Shape[0], "token dimensions");
            return new[] { TensorType.F32(), TensorType.F32() };
        }),

        // Every expert takes its top-C tokens by score: per-token choice slots over all E experts.
        new OpInfo(ExpertChoice, 1, 5, IterationSpace.TokenScan, new[] { "factor" }, (n, t) =>
        {
            var probs = Rank(n, t[0], 2, 0);
            var e = Constant(n, probs.Shape[1], "expert count");
            var shape = probs.Shape.ToArray();
            return new[] { TensorType.I32(shape), TensorType.F32(shape), TensorType.I32(shape), TensorType.I32(e), TensorType.I32() };
        }),
        new OpInfo(HashRoute, 1, 2, IterationSpace.TokenRows, new[] { "experts" }, (n, t) =>
        {
            var ids = Rank(n, t[0], 1, 0);
            if (ids.DType != DType.I32)
            {
                throw new CompileException($"%{n.Name} = hash_route: token ids must be i32, got {ids}");
            }

            return new[] { TensorType.F32(ids.Shape[0], 1), TensorType.I32(ids.Shape[0], 1) };
        }),
        new OpInfo(Sigmoid, 1, 1, IterationSpace.TokenRows, new string[0], (n, t) => new[] { Rank(n, t[0], 2, 0) }),

        // top-k chosen on score + bias; the values returned are the scores without the bias.
        new OpInfo(TopKBiased, 2, 2, IterationSpace.TokenRows, new[] { "k" }, (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Same(n, t[0].Shape[1], Rank(n, t[1], 1, 1).Shape[0], "expert counts");
            var k = n.IntAttr("k");
            var e = Constant(n, t[0].Shape[1], "expert count");
            if (k < 1 || k > e)
            {
                throw new CompileException($"%{n.Name} = topk_biased: k={k} must be in 1..{e}");
            }

            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        }),

        // Shared experts routed..routed+shared−1 appended to every token's choices with gate 1.
        new OpInfo(AppendShared, 2, 2, IterationSpace.TokenRows, new[] { "routed", "shared" }, (n, t) =>
        {
            SameShape(n, Rank(n, t[0], 2, 0), t[1]);
            var k = Constant(n, t[0].Shape[1], "choices") + n.IntAttr("shared");
            return new[] { TensorType.F32(t[0].Shape[0], k), TensorType.I32(t[0].Shape[0], k) };
        }),
        // Model ops: a decoder-only transformer around the MoE feed-forward.
        new OpInfo(Embed, 2, 1, IterationSpace.TokenRows, new string[0], (n, t) =>
        {
            var ids = Rank(n, t[0], 1, 0);
            Rank(n, t[1], 2, 1);
            return new[] { TensorType.F32(ids.Shape[0], t[1].Shape[1]) };
        }),
        new OpInfo(RmsNorm, 2, 1, IterationSpace.TokenRows, new[] { "eps" }, (n, t) => new[] { Norm(n, t, 1) }),
        new OpInfo(LayerNorm, 3, 1, IterationSpace.TokenRows, new[] { "eps" }, (n, t) => new[] { Norm(n, t, 1) }),

        // The residual add fused with the next norm: the sum (the new residual) and its normalised rows.
        new OpInfo(AddRmsNorm, 3, 2, IterationSpace.TokenRows, new[] { "eps" }, (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return new[] { t[0], Norm(n, t, 2) };
        }),
        new OpInfo(AddLayerNorm, 4, 2, IterationSpace.TokenRows, new[] { "eps" }, (n, t) =>
        {
            SameShape(n, t[0], t[1]);
            return new[] { t[0], Norm(n, t, 2) };
        }),
        new OpInfo(Linear, 2, 1, IterationSpace.DenseRows, new string[0], (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Rank(n, t[1], 2, 1);
            Same(n, t[0].Shape[1], t[1].Shape[0], "inner dimensions");
            return new[] { TensorType.F32(t[0].Shape[0], t[1].Shape[1]) };
        }),

        // qkv [T, (heads + 2·kv_heads)·head_dim] → [T, heads·head_dim]; RoPE, when declared, on load.
        new OpInfo(Attention, 1, 1, IterationSpace.Sequences, new[] { "heads", "kv_heads", "head_dim", "causal", "rope" }, (n, t) =>
        {
            var qkv = Rank(n, t[0], 2, 0);
            int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads"), hd = n.IntAttr("head_dim");
            if (heads < 1 || kv < 1 || heads % kv != 0)
            {
                throw new CompileException($"%{n.Name} = attention: kv_heads={kv} must divide heads={heads}");
            }

            Same(n, qkv.Shape[1], (heads + (2 * kv)) * hd, "qkv width");
            return new[] { TensorType.F32(qkv.Shape[0], heads * hd) };
        }),
        new OpInfo(Moe, 1, 1, IterationSpace.SubLayer, new[] { "layer" }, (n, t) => new[] { Rank(n, t[0], 2, 0) }),

        // up (+ bias), activation, down (+ bias): a dense expert, one fused MLP.
        new OpInfo(DenseFfn, 5, 1, IterationSpace.DenseRows, new[] { "activation" }, (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            Same(n, t[0].Shape[1], Rank(n, t[1], 2, 1).Shape[0], "inner dimensions");
            return new[] { t[0] };
        }),
        new OpInfo(Combine, 5, 1, IterationSpace.TokenGather, new string[0], (n, t) =>
        {
            Rank(n, t[0], 2, 0);
            SameShape(n, t[1], t[2]);
            SameShape(n, t[1], t[3]);
            return new[] { TensorType.F32(t[1].Shape[0], t[0].Shape[1]) };
        }),
    }.ToDictionary(o => o.Name);

    public static IEnumerable<string> Names => Table.Keys;

    public static bool TryGet(string name, out OpInfo info) => Table.TryGetValue(name, out info!);

    public static OpInfo Get(string name) =>
        Table.TryGetValue(name, out var info) ? info : throw new CompileException($"unknown op '{name}'");

    /// <summary>A norm's rows and its weight (and bias) of the row width.</summary>
    private static TensorType Norm(Node n, IReadOnlyList<TensorType> t, int weight)
    {
        var x = Rank(n, t[0], 2, 0);
        for (var i = weight; i < t.Count; i++)
        {
            Same(n, x.Shape[1], Rank(n, t[i], 1, i).Shape[0], "norm width");
        }

        return x;
    }

    private static TensorType Rank(Node n, TensorType t, int rank, int operand) =>
        t.Rank == rank ? t : throw new CompileException($"%{n.Name} = {n.Op}: operand {operand} must have rank {rank}, got {t}");

    private static void Same(Node n, Dim a, Dim b, string what)
    {
        if (a != b)
        {
            throw new CompileException($"%{n.Name} = {n.Op}: {what} differ ({a} vs {b})");
        }
    }

    private static void SameShape(Node n, TensorType a, TensorType b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
        {
            throw new CompileException($"%{n.Name} = {n.Op}: shapes {a} and {b} must match");
        }
    }

    private static int Constant(Node n, Dim d, string what) =>
        d.IsSymbolic ? throw new CompileException($"%{n.Name} = {n.Op}: {what} must be a compile-time constant, got {d}") : d.Value;
}
