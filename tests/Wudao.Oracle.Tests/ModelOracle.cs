using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Models;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>What one MoE block of the libtorch model did with the sequence: tokens kept per expert, dropped, and whether its routing was too close to call.</summary>
public sealed record TorchMoeBlock(int Layer, int[] Kept, int Dropped, bool NearTie);

/// <summary>The libtorch model's logits [T, Vocab] for one sequence, and what its MoE blocks did.</summary>
public sealed record TorchModelResult(float[] Logits, IReadOnlyList<TorchMoeBlock> MoeBlocks)
{
    /// <summary>Some MoE block had a token whose routing fp32 rounding could flip (see <see cref="TorchMoe.NearTies"/>).</summary>
    public bool NearTie => MoeBlocks.Any(b => b.NearTie);

    public int Dropped => MoeBlocks.Sum(b => b.Dropped);
}

/// <summary>The greedy continuation of a prompt by the libtorch model, and how clear each choice was.</summary>
public sealed record TorchGreedyResult(int[] Tokens, float SmallestMargin, bool NearTie, int Dropped);

/// <summary>
/// A declared Wudao transformer written again with libtorch operations (TorchSharp), from the
/// model's <see cref="ModelInfo"/> and its weights looked up by name, as an oracle for the generated
/// model class. Pre-norm decoder: h = embed[ids]; per block x = norm(h), qkv = x·Wqkv split into
/// Q | K | V, RoPE (HF rotate-half) on Q and K, causal SDPA with each kv head serving its
/// consecutive group of query heads, h += att·Wo; y = norm(h), h += MoE(y) (the MoE blocks, through
/// <see cref="TorchMoe"/>) or act(y·w1 + b1)·w2 + b2; logits = norm(h)·W_lm. Weights are [in, out].
/// It shares nothing with Wudao's kernels: only the weights, the declared sizes and the MoE layer's
/// routing seed (unused by the deterministic routers).
/// </summary>
public sealed class ModelOracle
{
    private readonly ModelInfo _info;
    private readonly MoeWeights _weights;
    private readonly CounterSeed _routingSeed;
    private readonly Dictionary<int, MoeWeights> _moe = new();

    public ModelOracle(ModelInfo info, MoeWeights weights, ulong routingSeed)
    {
        _info = info ?? throw new ArgumentNullException(nameof(info));
        _weights = weights ?? throw new ArgumentNullException(nameof(weights));
        _routingSeed = new CounterSeed(routingSeed);
        for (var i = 0; i < info.Layers; i++)
        {
            if (info.IsMoe(i))
            {
                _moe[i] = weights.Scope($"layers.{i}.moe.");
            }
        }
    }

    public ModelInfo Info => _info;

    /// <summary>Logits of every position of <paramref name="ids"/> (a new sequence, positions 0..T−1).</summary>
    public TorchModelResult Forward(IReadOnlyList<int> ids)
    {
        TorchMoe.Initialise();
        using var scope = NewDisposeScope();
        var info = _info;
        int t = ids.Count, d = info.Dim;
        if (t == 0)
        {
            throw new ArgumentException("the oracle runs sequences of at least one token", nameof(ids));
        }

        var blocks = new List<TorchMoeBlock>();
        var index = tensor(ids.Select(i => (long)i).ToArray(), new long[] { t });
        var h = W("embed.weight").index_select(0, index);
        for (var i = 0; i < info.Layers; i++)
        {
            var p = $"layers.{i}.";
            var x = Norm(h, p + "attn_norm");
            h = h + SelfAttention(x.mm(W(p + "attn.qkv.weight")), t, p).mm(W(p + "attn.o.weight"));

            var y = Norm(h, p + "ffn_norm");
            Tensor f;
            if (info.IsMoe(i))
            {
                var rows = y.contiguous().data<float>().ToArray();
                var moe = TorchMoe.Forward(info.Moe, _moe[i], rows, t, _routingSeed, step: 0);
                var near = TorchMoe.NearTies(info.Moe, _moe[i], rows, t, _routingSeed, step: 0).Any(n => n);
                blocks.Add(new TorchMoeBlock(i, moe.Kept, moe.Dropped, near));
                f = tensor(moe.Output, new long[] { t, d });
            }
            else
            {
                f = DenseFeedForward(y, p + "ffn.");
            }

            h = h + f;
        }

        var logits = Norm(h, "norm").mm(W("lm_head.weight"));
        if (logits.shape[0] != t || logits.shape[1] != info.Vocab)
        {
            throw new InvalidOperationException($"{info.Name}: the oracle's logits are [{string.Join(", ", logits.shape)}], not [{t}, {info.Vocab}]");
        }

        return new TorchModelResult(logits.contiguous().data<float>().ToArray(), blocks);
    }

    /// <summary>
    /// Greedy decoding written the slow way: every step runs the whole prefix again and appends the
    /// argmax of the last position's logits (ties to the lower id). Reports the smallest gap between
    /// the best and second-best logit over the steps, and whether any pass had routing near-ties or drops.
    /// </summary>
    public TorchGreedyResult Greedy(IReadOnlyList<int> prompt, int newTokens)
    {
        var sequence = prompt.ToList();
        var tokens = new int[newTokens];
        var margin = float.PositiveInfinity;
        var near = false;
        var dropped = 0;
        for (var s = 0; s < newTokens; s++)
        {
            var result = Forward(sequence);
            near |= result.NearTie;
            dropped += result.Dropped;
            var v = _info.Vocab;
            var last = result.Logits.AsSpan((sequence.Count - 1) * v, v);
            var best = 0;
            for (var i = 1; i < v; i++)
            {
                if (last[i] > last[best])
                {
                    best = i;
                }
            }

            var second = float.NegativeInfinity;
            for (var i = 0; i < v; i++)
            {
                if (i != best)
                {
                    second = Math.Max(second, last[i]);
                }
            }

            margin = Math.Min(margin, last[best] - second);
            tokens[s] = best;
            sequence.Add(best);
        }

        return new TorchGreedyResult(tokens, margin, near, dropped);
    }

    /// <summary>Q | K | V rows [T, (H + 2·KV)·hd] → attention output [T, H·hd].</summary>
    private Tensor SelfAttention(Tensor qkv, int t, string p)
    {
        int heads = _info.Heads, kvHeads = _info.KvHeads, hd = _info.HeadDim;
        var q = qkv.narrow(1, 0, heads * hd);
        var k = qkv.narrow(1, heads * hd, kvHeads * hd);
        var v = qkv.narrow(1, (heads + kvHeads) * hd, kvHeads * hd);

        // [T, heads·hd] → [1, heads, T, hd], the layout SDPA takes.
        q = q.reshape(t, heads, hd).transpose(0, 1).unsqueeze(0);
        k = k.reshape(t, kvHeads, hd).transpose(0, 1).unsqueeze(0);
        v = v.reshape(t, kvHeads, hd).transpose(0, 1).unsqueeze(0);
        if (_info.QkNorm)
        {
            // Qwen3: each head RMS-normalised over its hd values, times its γ, before RoPE.
            Tensor Rms(Tensor x, string name) => x * rsqrt(x.pow(2).mean(new long[] { -1 }, keepdim: true) + _info.NormEpsilon) * W(p + name);
            q = Rms(q, "attn.q_norm.weight");
            k = Rms(k, "attn.k_norm.weight");
        }

        if (_info.Position == Position.Rope)
        {
            // HF Llama: inv_freq = 1 / θ^(2i/hd), angles = position ⊗ inv_freq duplicated over both halves.
            var invFreq = 1.0f / pow((double)_info.RopeBase, arange(0, hd, 2, ScalarType.Float32) / hd);
            var angles = outer(arange(t, ScalarType.Float32), invFreq);
            var emb = cat(new[] { angles, angles }, -1);
            var (cos, sin) = (emb.cos(), emb.sin());
            q = (q * cos) + (RotateHalf(q, hd) * sin);
            k = (k * cos) + (RotateHalf(k, hd) * sin);
        }

        // GQA: kv head j serves query heads j·g .. j·g + g − 1.
        var group = heads / kvHeads;
        k = k.repeat_interleave(group, dim: 1);
        v = v.repeat_interleave(group, dim: 1);
        var att = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: null, p: 0, is_casual: _info.Causal);
        return att.squeeze(0).transpose(0, 1).reshape(t, heads * hd);
    }

    private static Tensor RotateHalf(Tensor x, int hd)
    {
        var first = x.narrow(-1, 0, hd / 2);
        var second = x.narrow(-1, hd / 2, hd / 2);
        return cat(new[] { -second, first }, -1);
    }

    /// <summary>RMSNorm x·rsqrt(mean x² + ε)·γ, or libtorch's layer_norm (population variance) with γ and β.</summary>
    private Tensor Norm(Tensor x, string name)
    {
        var eps = (double)_info.NormEpsilon;
        var gamma = W(name + ".weight");
        if (_info.Norm == Wudao.Norm.LayerNorm)
        {
            return nn.functional.layer_norm(x, new long[] { _info.Dim }, gamma, W(name + ".bias"), eps);
        }

        return x * (x.pow(2).mean(new long[] { -1 }, keepdim: true) + eps).rsqrt() * gamma;
    }

    /// <summary>act(y·w1 + b1)·w2 + b2, the dense blocks' MLP; SwiGLU is silu(first half)·(second half) of w1's columns.</summary>
    private Tensor DenseFeedForward(Tensor y, string prefix)
    {
        var w1 = W(prefix + "w1");
        var w2 = W(prefix + "w2");
        var hidden = (int)w2.shape[0];
        if (hidden != _info.DenseHidden)
        {
            throw new InvalidOperationException($"{_info.Name}: {prefix}w2 has {hidden} rows, the model declares DenseHidden = {_info.DenseHidden}");
        }

        var a = y.mm(w1) + W(prefix + "b1");
        var activated = _info.Moe.Activation switch
        {
            Activation.Gelu => nn.functional.gelu(a),
            Activation.Relu => nn.functional.relu(a),
            Activation.Silu => nn.functional.silu(a),
            Activation.SwiGlu => nn.functional.silu(a.narrow(1, 0, hidden)) * a.narrow(1, hidden, hidden),
            Activation.GeGlu => nn.functional.gelu(a.narrow(1, 0, hidden)) * a.narrow(1, hidden, hidden),
            _ => throw new ArgumentOutOfRangeException(nameof(prefix), _info.Moe.Activation, "unknown activation"),
        };
        return activated.mm(w2) + W(prefix + "b2");
    }

    private Tensor W(string name)
    {
        var w = _weights[name];
        return tensor(w.Data, w.Shape.Select(s => (long)s).ToArray());
    }
}
