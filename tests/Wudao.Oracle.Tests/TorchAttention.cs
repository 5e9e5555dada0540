using System;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>
/// Attention for one sequence computed by libtorch: RoPE as HF Llama writes it (rotate_half,
/// cos/sin of position ⊗ inv_freq, duplicated over both halves), GQA by repeat_interleave of the
/// kv heads, then torch.nn.functional.scaled_dot_product_attention; the log-sum-exp from the
/// explicit scaled, masked score matrix. Inputs and outputs in the kernels' [T, heads, D] layout.
/// </summary>
public static class TorchAttention
{
    public static (float[] Output, float[] Lse) Forward(int heads, int kvHeads, int dim, bool causal, bool rope, float[] q, float[] k, float[] v, int tokens, double ropeBase = 10000)
    {
        TorchMoe.Initialise();
        using var scope = NewDisposeScope();

        // [T, H, D] → [1, H, T, D], the layout SDPA takes.
        var tq = tensor(q, new long[] { 1, tokens, heads, dim }).transpose(1, 2);
        var tk = tensor(k, new long[] { 1, tokens, kvHeads, dim }).transpose(1, 2);
        var tv = tensor(v, new long[] { 1, tokens, kvHeads, dim }).transpose(1, 2);
        if (rope)
        {
            var invFreq = 1.0f / pow(ropeBase, arange(0, dim, 2, ScalarType.Float32) / dim);
            var freqs = outer(arange(tokens, ScalarType.Float32), invFreq);
            var emb = cat(new[] { freqs, freqs }, -1);
            var cos = emb.cos();
            var sin = emb.sin();
            tq = (tq * cos) + (RotateHalf(tq, dim) * sin);
            tk = (tk * cos) + (RotateHalf(tk, dim) * sin);
        }

        var group = heads / kvHeads;
        tk = tk.repeat_interleave(group, dim: 1);
        tv = tv.repeat_interleave(group, dim: 1);

        var output = nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask: null, p: 0, is_casual: causal);

        var scores = tq.matmul(tk.transpose(-2, -1)) * (1.0 / Math.Sqrt(dim));
        if (causal)
        {
            var above = ones(tokens, tokens, ScalarType.Bool).triu(1);
            scores = scores.masked_fill(above, float.NegativeInfinity);
        }

        var lse = scores.logsumexp(-1);

        // Back to [T, H, D] and [T, H].
        return (
            output.transpose(1, 2).contiguous().data<float>().ToArray(),
            lse.squeeze(0).transpose(0, 1).contiguous().data<float>().ToArray());
    }

    private static Tensor RotateHalf(Tensor x, int dim)
    {
        var first = x.narrow(-1, 0, dim / 2);
        var second = x.narrow(-1, dim / 2, dim / 2);
        return cat(new[] { -second, first }, -1);
    }
}
