using System.Collections.Generic;
using System.Globalization;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Spec;

namespace Wudao.Compiler.Lowering;

/// <summary>Lowers a declared MoE layer to graph IR. Types are left to shape inference.</summary>
public static class MoeLowering
{
    public static Graph Lower(MoeLayerSpec spec)
    {
        int d = spec.Dim, e = spec.Experts, k = spec.TopK, h = spec.Hidden, h1 = spec.HiddenIn;
        var nodes = new List<Node>
        {
            Param("wg", "gate.weight", d, TensorType.F32(d, e)),
            Param("w1", "experts.w1", d, TensorType.F32(e, d, h1)),
            Param("b1", "experts.b1", d, TensorType.F32(e, h1)),
            Param("w2", "experts.w2", h, TensorType.F32(e, h, d)),
            Param("b2", "experts.b2", h, TensorType.F32(e, d)),
            N(Ops.MatMul, "logits", spec.Jitter > 0 ? "xj" : "x", "wg"),
            N(Ops.Softmax, new[] { "probs" }, new[] { "logits" }, ("axis", "1")),
            N(Ops.TopK, new[] { "top_w", "top_e" }, new[] { "probs" }, ("k", I(k))),
        };

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

        nodes.Add(N(Ops.Capacity, new[] { "slots", "kept", "dropped" }, new[] { experts }, ("experts", I(e)), ("factor", F(spec.CapacityFactor))));
        nodes.Add(N(Ops.Scan, "offsets", "kept"));
        nodes.Add(N(Ops.AuxLoss, new[] { "aux" }, new[] { "probs", experts }, ("alpha", F(spec.AuxLossWeight))));
        if (spec.ZLossWeight > 0)
        {
            nodes.Add(N(Ops.ZLoss, new[] { "zloss" }, new[] { "lse" }, ("weight", F(spec.ZLossWeight))));
        }

        nodes.Add(N(Ops.Dispatch, "rows", "x", experts, "slots", "offsets"));
        nodes.Add(N(Ops.GroupedMatMul, "h", "rows", "w1", "offsets"));
        nodes.Add(N(Ops.Bias, "hb", "h", "b1", "offsets"));
        var act = spec.Activation switch
        {
            ActivationKind.Relu => Ops.Relu,
            ActivationKind.Silu => Ops.Silu,
            ActivationKind.SwiGlu => Ops.SwiGlu,
            _ => Ops.Gelu,
        };
        nodes.Add(N(act, "a", "hb"));
        nodes.Add(N(Ops.GroupedMatMul, "y0", "a", "w2", "offsets"));
        nodes.Add(N(Ops.Bias, "y", "y0", "b2", "offsets"));
        nodes.Add(N(Ops.Combine, "out", "y", experts, gates, "slots", "offsets"));

        var inputs = new[] { new KeyValuePair<string, TensorType>("x", TensorType.F32(Dim.Sym("T"), d)) };
        if (spec.Jitter > 0)
        {
            // Switch's jitter multiplies only the router's input; the experts see x unchanged.
            nodes.Insert(nodes.FindIndex(n => n.Op == Ops.MatMul), N(Ops.Jitter, new[] { "xj" }, new[] { "x" }, ("eps", F(spec.Jitter))));
        }

        var outputs = spec.ZLossWeight > 0 ? new[] { "out", "kept", "dropped", "aux", "zloss" } : new[] { "out", "kept", "dropped", "aux" };
        return new Graph(spec.ClassName, inputs, nodes, outputs);
    }

    /// <summary>A weight; fan_in is recorded so initialisation follows torch.nn.Linear (±1/sqrt(fan_in)).</summary>
    private static Node Param(string value, string name, int fanIn, TensorType type) =>
        new(Ops.Param, new[] { value }, new string[0], new[] { new KeyValuePair<string, string>("name", name), new KeyValuePair<string, string>("fan_in", I(fanIn)) }, new TensorType?[] { type });

    private static Node N(string op, string result, params string[] operands) => new(op, new[] { result }, operands);

    private static Node N(string op, string[] results, string[] operands, params (string Key, string Value)[] attrs)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var (key, value) in attrs)
        {
            list.Add(new KeyValuePair<string, string>(key, value));
        }

        return new Node(op, results, operands, list);
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
