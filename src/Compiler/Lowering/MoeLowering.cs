using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Spec;
using static Wudao.Compiler.Lowering.NodeBuilder;

namespace Wudao.Compiler.Lowering;

/// <summary>Lowers a declared MoE layer to graph IR. Types are left to shape inference.</summary>
public static class MoeLowering
{
    public static Graph Lower(MoeLayerSpec spec)
    {
        int d = spec.Dim, e = spec.Experts, h = spec.Hidden, h1 = spec.HiddenIn, ffn = spec.FfnExperts;
        var nodes = new List<Node>();
        if (spec.Router != RouterKind.Hash)
        {
            nodes.Add(Param("wg", "gate.weight", d, TensorType.F32(d, e)));
        }

        if (spec.Router == RouterKind.NoisyTopK)
        {
            nodes.Add(Param("wn", "gate.noise", d, TensorType.F32(d, e)));
        }

        if (spec.Router == RouterKind.DeepSeek)
        {
            // Not learned by gradient: moved by UpdateBalanceBias; fan_in 0 = starts at zero.
            nodes.Add(Param("bias", "gate.bias", 0, TensorType.F32(e)));
        }

        // Shared experts (DeepSeek) are stored after the routed ones and run by the same grouped GEMMs.
        nodes.Add(Param("w1", "experts.w1", d, TensorType.F32(ffn, d, h1)));
        nodes.Add(Param("b1", "experts.b1", d, TensorType.F32(ffn, h1)));
        nodes.Add(Param("w2", "experts.w2", h, TensorType.F32(ffn, h, d)));
        nodes.Add(Param("b2", "experts.b2", h, TensorType.F32(ffn, d)));

        var route = spec.Router switch
        {
            RouterKind.NoisyTopK => NoisyTopK(spec, nodes),
            RouterKind.ExpertChoice => ExpertChoice(spec, nodes),
            RouterKind.Hash => Hash(spec, nodes),
            RouterKind.DeepSeek => DeepSeek(spec, nodes),
            _ => SoftmaxTopK(spec, nodes),
        };

        nodes.Add(N(Ops.Dispatch, "rows", "x", route.Experts, "slots", "offsets"));
        nodes.Add(N(Ops.GroupedMatMul, "h", "rows", "w1", "offsets"));
        nodes.Add(N(Ops.Bias, "hb", "h", "b1", "offsets"));
        var act = Activations.ByValue((int)spec.Activation)!.Op;
        nodes.Add(N(act, "a", "hb"));
        nodes.Add(N(Ops.GroupedMatMul, "y0", "a", "w2", "offsets"));
        nodes.Add(N(Ops.Bias, "y", "y0", "b2", "offsets"));
        nodes.Add(N(Ops.Combine, "out", "y", route.Experts, route.Gates, "slots", "offsets"));

        var inputs = new List<KeyValuePair<string, TensorType>> { new("x", TensorType.F32(Dim.Sym("T"), d)) };
        if (spec.Router == RouterKind.Hash)
        {
            inputs.Add(new("ids", TensorType.I32(Dim.Sym("T"))));
        }

        // The layer output, then the statistics: kept per expert, dropped, each named loss, and the
        // count of non-finite tokens (token-choice routers).
        var outputs = new List<string> { "out", "kept", "dropped" };
        outputs.AddRange(route.Losses);
        if (nodes.Any(n => n.Op == Ops.NonFinite))
        {
            outputs.Add("nonfinite");
        }
        return new Graph(spec.ClassName, inputs, nodes, outputs);
    }

    /// <summary>Softmax routers (TopK, Switch, GShard): optional jitter, top-k, capacity, aux and z losses.</summary>
    private static Route SoftmaxTopK(MoeLayerSpec spec, List<Node> nodes)
    {
        int e = spec.Experts, k = spec.TopK;
        if (spec.Jitter > 0)
        {
            // Switch's jitter multiplies only the router's input; the experts see x unchanged.
            nodes.Add(N(Ops.Jitter, new[] { "xj" }, new[] { "x" }, ("eps", F(spec.Jitter))));
        }

        nodes.Add(N(Ops.MatMul, "logits", spec.Jitter > 0 ? "xj" : "x", "wg"));
        nodes.Add(N(Ops.Softmax, new[] { "probs" }, new[] { "logits" }, ("axis", "1")));
        nodes.Add(N(Ops.TopK, new[] { "top_w", "top_e" }, new[] { "probs" }, ("k", I(k))));

        // Switch multiplies by the raw router probability; top-k (Mixtral) and GShard renormalise.
        var gates = "top_w";
        if (spec.Router != RouterKind.Switch)
        {
            nodes.Add(N(Ops.Renorm, "gates", "top_w"));
            gates = "gates";
        }

        var experts = "top_e";
        if (spec.Router == RouterKind.GShard)
        {
            nodes.Add(N(Ops.SecondDrop, "experts", gates, "top_e"));
            experts = "experts";
        }

        if (spec.ZLossWeight > 0)
        {
            nodes.Add(N(Ops.LogSumExp, "lse", "logits"));
        }

        Capacity(spec, nodes, experts);
        nodes.Add(N(Ops.AuxLoss, new[] { "aux" }, new[] { "probs", experts }, ("alpha", F(spec.AuxLossWeight))));
        var losses = new List<string> { "aux" };
        if (spec.ZLossWeight > 0)
        {
            nodes.Add(N(Ops.ZLoss, new[] { "zloss" }, new[] { "lse" }, ("weight", F(spec.ZLossWeight))));
            losses.Add("zloss");
        }

        return new Route(experts, gates, losses);
    }

    /// <summary>Shazeer 2017: noisy logits, top-k, softmax over the chosen k, CV² importance and load losses.</summary>
    private static Route NoisyTopK(MoeLayerSpec spec, List<Node> nodes)
    {
        nodes.Add(N(Ops.MatMul, "logits", "x", "wg"));
        nodes.Add(N(Ops.MatMul, "raw", "x", "wn"));
        nodes.Add(N(Ops.Noisy, "noisy", "logits", "raw"));
        nodes.Add(N(Ops.TopK, new[] { "top_h", "top_e" }, new[] { "noisy" }, ("k", I(spec.TopK))));
        nodes.Add(N(Ops.Softmax, new[] { "gates" }, new[] { "top_h" }, ("axis", "1")));
        nodes.Add(N(Ops.LoadProb, new[] { "p_load" }, new[] { "logits", "raw", "noisy" }, ("k", I(spec.TopK))));
        Capacity(spec, nodes, "top_e");
        nodes.Add(N(Ops.NoisyLoss, new[] { "importance", "load" }, new[] { "p_load", "gates", "top_e" }, ("importance", F(spec.ImportanceWeight)), ("load", F(spec.LoadWeight))));
        return new Route("top_e", "gates", new List<string> { "importance", "load" });
    }

    /// <summary>Zhou 2022: softmax scores; each expert takes its top ceil(c·T/E) tokens.</summary>
    private static Route ExpertChoice(MoeLayerSpec spec, List<Node> nodes)
    {
        nodes.Add(N(Ops.MatMul, "logits", "x", "wg"));
        nodes.Add(N(Ops.Softmax, new[] { "probs" }, new[] { "logits" }, ("axis", "1")));
        nodes.Add(N(Ops.ExpertChoice, new[] { "experts", "gates", "slots", "kept", "dropped" }, new[] { "probs" }, ("factor", F(spec.CapacityFactor))));
        nodes.Add(N(Ops.Scan, "offsets", "kept"));
        nodes.Add(N(Ops.NonFinite, "nonfinite", "x"));
        return new Route("experts", "gates", new List<string>());
    }

    /// <summary>Roller 2021: the token id's hash picks the expert; gate 1; no router weights.</summary>
    private static Route Hash(MoeLayerSpec spec, List<Node> nodes)
    {
        nodes.Add(N(Ops.HashRoute, new[] { "gates", "experts" }, new[] { "ids" }, ("experts", I(spec.Experts))));
        Capacity(spec, nodes, "experts");
        return new Route("experts", "gates", new List<string>());
    }

    /// <summary>DeepSeek-V3: sigmoid scores, top-k on score + bias, gates normalised without the bias, shared experts appended.</summary>
    private static Route DeepSeek(MoeLayerSpec spec, List<Node> nodes)
    {
        nodes.Add(N(Ops.MatMul, "logits", "x", "wg"));
        nodes.Add(N(Ops.Sigmoid, "scores", "logits"));
        nodes.Add(N(Ops.TopKBiased, new[] { "top_s", "top_e" }, new[] { "scores", "bias" }, ("k", I(spec.TopK)), ("rate", F(spec.BiasUpdateRate))));
        nodes.Add(N(Ops.Renorm, "routed", "top_s"));
        var (gates, experts) = ("routed", "top_e");
        if (spec.SharedExperts > 0)
        {
            nodes.Add(N(Ops.AppendShared, new[] { "gates", "experts" }, new[] { "routed", "top_e" }, ("routed", I(spec.Experts)), ("shared", I(spec.SharedExperts))));
            (gates, experts) = ("gates", "experts");
        }

        Capacity(spec, nodes, experts);
        return new Route(experts, gates, new List<string>());
    }

    /// <summary>Token-choice capacity slotting and the scan of kept rows; shared experts are exempt from capacity.</summary>
    private static void Capacity(MoeLayerSpec spec, List<Node> nodes, string experts)
    {
        var attrs = new List<(string, string)> { ("experts", I(spec.FfnExperts)), ("factor", F(spec.CapacityFactor)) };
        if (spec.SharedExperts > 0)
        {
            attrs.Add(("routed", I(spec.Experts)));
        }

        nodes.Add(N(Ops.Capacity, new[] { "slots", "kept", "dropped" }, new[] { experts }, attrs.ToArray()));
        nodes.Add(N(Ops.Scan, "offsets", "kept"));
        nodes.Add(N(Ops.NonFinite, "nonfinite", "x"));
    }

    private sealed record Route(string Experts, string Gates, List<string> Losses);
}
