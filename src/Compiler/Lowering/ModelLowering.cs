using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Spec;
using static Wudao.Compiler.Lowering.NodeBuilder;

namespace Wudao.Compiler.Lowering;

/// <summary>
/// Lowers a declared transformer to graph IR: embeddings, pre-norm blocks whose residual add is
/// fused with the next norm, Q/K/V as one projection, attention, a MoE or dense feed-forward,
/// final norm and LM head. Weight names are the names in safetensors files.
/// </summary>
public static class ModelLowering
{
    public static Graph Lower(ModelSpec spec)
    {
        int d = spec.Dim, v = spec.Vocab;
        var nodes = new List<Node>
        {
            Param("embed", "embed.weight", d, TensorType.F32(v, d)),
            N(Ops.Embed, "h0", "ids", "embed"),
        };

        var eps = F(spec.NormEpsilon);
        var layerNorm = spec.Norm == NormKind.LayerNorm;
        string residual = "h0", delta = "";
        for (var i = 0; i < spec.Layers; i++)
        {
            var p = $"layers.{i}.";
            var attnNorm = NormParams(nodes, $"l{i}_attn_norm", p + "attn_norm", d, layerNorm);
            string normed;
            if (i == 0)
            {
                normed = $"l{i}_x";
                nodes.Add(N(layerNorm ? Ops.LayerNorm : Ops.RmsNorm, new[] { normed }, Operands(attnNorm, residual), ("eps", eps)));
            }
            else
            {
                // The previous block's residual add fused with this block's first norm.
                normed = $"l{i}_x";
                nodes.Add(N(layerNorm ? Ops.AddLayerNorm : Ops.AddRmsNorm, new[] { $"l{i}_h", normed }, Operands(attnNorm, residual, delta), ("eps", eps)));
                residual = $"l{i}_h";
            }

            nodes.Add(Param($"l{i}_wqkv", p + "attn.qkv.weight", d, TensorType.F32(d, spec.QkvWidth)));
            nodes.Add(Param($"l{i}_wo", p + "attn.o.weight", spec.Heads * spec.HeadDim, TensorType.F32(spec.Heads * spec.HeadDim, d)));
            nodes.Add(N(Ops.Linear, $"l{i}_qkv", normed, $"l{i}_wqkv"));
            var qkv = $"l{i}_qkv";
            if (spec.QkNorm)
            {
                // fan_in −1: γ starts at one.
                nodes.Add(Param($"l{i}_qn", p + "attn.q_norm.weight", -1, TensorType.F32(spec.HeadDim)));
                nodes.Add(Param($"l{i}_kn", p + "attn.k_norm.weight", -1, TensorType.F32(spec.HeadDim)));
                nodes.Add(N(Ops.QkNorm, new[] { $"l{i}_qkvn" }, new[] { qkv, $"l{i}_qn", $"l{i}_kn" },
                    ("heads", I(spec.Heads)), ("kv_heads", I(spec.KvHeads)), ("eps", eps)));
                qkv = $"l{i}_qkvn";
            }

            nodes.Add(N(Ops.Attention, new[] { $"l{i}_att" }, new[] { qkv },
                ("heads", I(spec.Heads)), ("kv_heads", I(spec.KvHeads)), ("head_dim", I(spec.HeadDim)),
                ("causal", spec.Causal ? "1" : "0"), ("rope", spec.Position == PositionKind.Rope ? "1" : "0"), ("rope_base", F(spec.RopeBase)), ("max_seq", I(spec.MaxSequence))));
            nodes.Add(N(Ops.Linear, $"l{i}_o", $"l{i}_att", $"l{i}_wo"));

            var ffnNorm = NormParams(nodes, $"l{i}_ffn_norm", p + "ffn_norm", d, layerNorm);
            nodes.Add(N(layerNorm ? Ops.AddLayerNorm : Ops.AddRmsNorm, new[] { $"l{i}_r", $"l{i}_y" }, Operands(ffnNorm, residual, $"l{i}_o"), ("eps", eps)));
            residual = $"l{i}_r";
            if (spec.IsMoe(i))
            {
                var moe = new List<(string, string)> { ("layer", spec.Moe.ClassName), ("weights", p + "moe.") };
                if (spec.Moe.Router == RouterKind.Hash)
                {
                    // Hash routing inside a model routes by the model's input token ids.
                    moe.Add(("by_ids", "1"));
                }

                if (spec.Moe.Router == RouterKind.DeepSeek)
                {
                    // Its bias moves between steps against the block's load (aux-loss-free balancing).
                    moe.Add(("balance_bias", "1"));
                }

                nodes.Add(N(Ops.Moe, new[] { $"l{i}_f" }, new[] { $"l{i}_y" }, moe.ToArray()));
            }
            else
            {
                int h = spec.DenseHidden, h1 = spec.DenseHiddenIn;
                nodes.Add(Param($"l{i}_w1", p + "ffn.w1", d, TensorType.F32(d, h1)));
                nodes.Add(Param($"l{i}_b1", p + "ffn.b1", d, TensorType.F32(h1)));
                nodes.Add(Param($"l{i}_w2", p + "ffn.w2", h, TensorType.F32(h, d)));
                nodes.Add(Param($"l{i}_b2", p + "ffn.b2", h, TensorType.F32(d)));
                nodes.Add(N(Ops.DenseFfn, new[] { $"l{i}_f" }, new[] { $"l{i}_y", $"l{i}_w1", $"l{i}_b1", $"l{i}_w2", $"l{i}_b2" }, ("activation", Activations.ByValue((int)spec.Moe.Activation)!.Op)));
            }

            delta = $"l{i}_f";
        }

        var final = NormParams(nodes, "final_norm", "norm", d, layerNorm);
        nodes.Add(N(layerNorm ? Ops.AddLayerNorm : Ops.AddRmsNorm, new[] { "h_out", "x_out" }, Operands(final, residual, delta), ("eps", eps)));
        nodes.Add(Param("lm_head", "lm_head.weight", d, TensorType.F32(d, v)));
        nodes.Add(N(Ops.Linear, "logits", "x_out", "lm_head"));

        // A step returns the logits; generation draws each next token from their last row.
        nodes.Add(N(Ops.Sample, "next", "logits"));
        var inputs = new[] { new KeyValuePair<string, TensorType>("ids", TensorType.I32(Dim.Sym("T"))) };
        return new Graph(spec.ClassName, inputs, nodes, new[] { "logits", "next" });
    }

    /// <summary>
    /// The training graph of a lowered model: the sampler replaced by the next-token loss,
    /// <c>%loss = cross_entropy %logits, %targets</c>, the targets an input beside the ids; each
    /// attention also writes its log-sum-exp (<c>attention_train</c>), which the backward keeps.
    /// </summary>
    public static Graph Training(Graph forward)
    {
        var nodes = forward.Nodes.Where(n => n.Op != Ops.Sample)
            .Select(n => n.Op == Ops.Attention ? new Node(Ops.AttentionTrain, new[] { n.Results[0], n.Results[0] + "_lse" }, n.Operands, n.Attributes) : n).ToList();
        nodes.Add(N(Ops.CrossEntropy, "loss", "logits", "targets"));
        var inputs = forward.Inputs.Append(new KeyValuePair<string, TensorType>("targets", TensorType.I32(Dim.Sym("T")))).ToList();
        return new Graph(forward.Name, inputs, nodes, new[] { "loss" });
    }

    /// <summary>The norm's weight (γ, starting at 1) and, for LayerNorm, its bias (β, starting at 0).</summary>
    private static string[] NormParams(List<Node> nodes, string value, string name, int d, bool layerNorm)
    {
        // fan_in −1 marks "starts at one", 0 "starts at zero" (see WeightSpec).
        nodes.Add(Param(value, name + ".weight", -1, TensorType.F32(d)));
        if (!layerNorm)
        {
            return new[] { value };
        }

        nodes.Add(Param(value + "_b", name + ".bias", 0, TensorType.F32(d)));
        return new[] { value, value + "_b" };
    }

    /// <summary>A norm's operands: the rows (for add+norm, both summands), then its weight and bias.</summary>
    private static string[] Operands(string[] norm, params string[] rows)
    {
        var all = new List<string>(rows);
        all.AddRange(norm);
        return all.ToArray();
    }
}
