using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>What libtorch computed for one of issue #7's routers: routing per choice, statistics, output.</summary>
public sealed record TorchRouterResult(float[] Output, int[] Experts, float[] Gates, int[] Slots, int[] Kept, int Dropped, IReadOnlyDictionary<string, float> Losses);

/// <summary>
/// A router layer's tensors: Losses by name as (cv², float64 scalar; its weight), Order the
/// decision a finite difference holds fixed (noisy top-k: the order of the noisy logits).
/// </summary>
internal sealed record RouterGraph(Tensor Output, Tensor Experts, Tensor Gates, Tensor Slots, Tensor Kept, long Dropped, IReadOnlyDictionary<string, (Tensor Cv, float Weight)> Losses, Tensor Order);

/// <summary>
/// NoisyTopK, ExpertChoice and DeepSeek written again with libtorch operations, the way a PyTorch
/// user would: topk/softmax/gather for routing, topk over the token dimension for expert choice,
/// one-hot cumulative sums for capacity, index_select / mm / index_add_ for the experts. Shares
/// with Wudao only the weights and noisy top-k's ε (drawn by CounterRng.Normal, passed as a tensor).
/// </summary>
public static partial class TorchRouters
{
    /// <summary>Shazeer 2017, with the load estimator as his _prob_in_top_k: threshold "if in" / "if out".</summary>
    public static TorchRouterResult NoisyTopK(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, float[] epsilon)
    {
        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        var xt = torch.tensor(x, new[] { (long)tokens, (long)info.Dim });
        return Result(NoisyGraph(info, xt, Weights(weights), torch.tensor(epsilon, new[] { (long)tokens, info.Experts })));
    }

    /// <summary>
    /// Noisy top-k as a graph on <paramref name="xt"/> and the weights in their dtype, shared by
    /// <see cref="NoisyTopK"/> and <see cref="NoisyTopKGradients"/>. The order of the noisy logits
    /// is a decision (no gradient); gates, importance and the load estimator's Φ (threshold values
    /// included, as in Shazeer's code) are differentiable. <paramref name="order"/>, when given,
    /// replaces the order by an earlier one, for finite differences.
    /// </summary>
    internal static RouterGraph NoisyGraph(MoeLayerInfo info, Tensor xt, IReadOnlyDictionary<string, Tensor> w, Tensor epsilon, Tensor? order = null)
    {
        long t = xt.shape[0], e = info.Experts;
        var k = info.TopK;
        var clean = xt.mm(w["gate.weight"]);
        var sigma = torch.nn.functional.softplus(xt.mm(w["gate.noise"]));
        var noisy = clean + (epsilon.to(xt.dtype) * sigma);
        var (topAll, orderAll) = noisy.topk((int)e, dim: 1, largest: true, sorted: true);
        if (order is not null)
        {
            orderAll = order;
            topAll = noisy.gather(1, order);
        }

        var experts = orderAll.narrow(1, 0, k);
        var gates = topAll.narrow(1, 0, k).softmax(1);

        // P(e in top k) = Φ((clean − threshold)/σ): threshold "if in" is the (k+1)-th noisy value
        // (none when k = E), "if out" the k-th; a chosen expert is one above the "if in" threshold.
        // With k = E every expert is in with probability 1: a constant, since Φ((clean + ∞)/σ)
        // would give σ the gradient 0·∞ = NaN.
        Tensor phi;
        if (k < e)
        {
            var ifOut = topAll.select(1, k - 1).unsqueeze(1);
            var ifIn = topAll.select(1, k).unsqueeze(1);
            var isIn = torch.zeros(new[] { t, e }, ScalarType.Bool).scatter(1, experts, torch.ones_like(experts, ScalarType.Bool));
            var threshold = torch.where(isIn, ifIn.expand(t, e), ifOut.expand(t, e));
            phi = 0.5 * (1 + ((clean - threshold) / sigma / Math.Sqrt(2)).erf());
        }
        else
        {
            phi = torch.ones_like(clean);
        }

        var importance = torch.zeros(new[] { t, e }, xt.dtype).scatter(1, experts, gates).sum(dim: 0);
        var losses = new Dictionary<string, (Tensor, float)>
        {
            ["importance"] = (CvSquared(importance), info.Options.ImportanceWeight),
            ["load"] = (CvSquared(phi.sum(dim: 0)), info.Options.LoadWeight),
        };
        return Finish(info, w, xt, experts, gates, Wudao.Runtime.Tests.Reference.MoeReference.Capacity(info, tokens: (int)t), losses) with { Order = orderAll };
    }

    /// <summary>Zhou 2022: each expert's top C tokens by softmax score, topk over dimension 0.</summary>
    public static TorchRouterResult ExpertChoice(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens)
    {
        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        long t = tokens, e = info.Experts;
        var capacity = Wudao.Runtime.Tests.Reference.MoeReference.Capacity(info, tokens);
        var xt = torch.tensor(x, new[] { t, (long)info.Dim });
        var w = Weights(weights);
        var probs = xt.mm(w["gate.weight"]).softmax(1);
        var (top, chosen) = probs.topk(capacity, dim: 0, largest: true, sorted: true); // [C, E]: rank r of expert e is token chosen[r, e]

        var rank = torch.arange(capacity, ScalarType.Int64).unsqueeze(1).expand(capacity, e);
        var slots = torch.full(new[] { t, e }, -1L, ScalarType.Int64).scatter(0, chosen, rank);
        var picked = slots.ge(0);
        var experts = torch.where(picked, torch.arange(e, ScalarType.Int64).unsqueeze(0).expand(t, e), torch.full(new[] { t, e }, -1L, ScalarType.Int64));
        var gates = torch.where(picked, probs, torch.zeros_like(probs));
        var output = torch.zeros(new[] { t, (long)info.Dim });
        for (var ex = 0; ex < e; ex++)
        {
            output = Accumulate(info, w, xt, output, ex, chosen.select(1, ex), top.select(1, ex));
        }

        var dropped = t - picked.any(1).sum().item<long>();
        return new TorchRouterResult(
            TorchMoe.Floats(output), TorchMoe.Ints(experts), TorchMoe.Floats(gates), TorchMoe.Ints(slots),
            Enumerable.Repeat(capacity, (int)e).ToArray(), (int)dropped, new Dictionary<string, float>());
    }

    /// <summary>DeepSeek-V3: sigmoid, topk of s + b, gather s, normalise; shared experts appended with gate 1.</summary>
    public static TorchRouterResult DeepSeek(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens)
    {
        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        long t = tokens, shared = info.Options.SharedExperts;
        var xt = torch.tensor(x, new[] { t, (long)info.Dim });
        var scores = xt.mm(TorchMoe.Weight(weights, "gate.weight")).sigmoid();
        var (_, routed) = (scores + TorchMoe.Weight(weights, "gate.bias")).topk(info.TopK, dim: 1, largest: true, sorted: true);
        var s = scores.gather(1, routed);
        var gates = s / s.sum(1, keepdim: true);
        var sharedExperts = (torch.arange(shared, ScalarType.Int64) + info.Experts).unsqueeze(0).expand(t, shared);
        var experts = torch.cat(new[] { routed, sharedExperts }, 1);
        gates = torch.cat(new[] { gates, torch.ones(new[] { t, shared }) }, 1);
        return Result(Finish(info, Weights(weights), xt, experts, gates, Wudao.Runtime.Tests.Reference.MoeReference.Capacity(info, tokens), new Dictionary<string, (Tensor, float)>()));
    }

    /// <summary>
    /// Token-choice capacity and the experts. A choice's slot counts earlier choices of its expert,
    /// every token's earlier columns first; only experts below E (routed) are limited.
    /// </summary>
    private static RouterGraph Finish(MoeLayerInfo info, IReadOnlyDictionary<string, Tensor> w, Tensor xt, Tensor experts, Tensor gates, int capacity, IReadOnlyDictionary<string, (Tensor, float)> losses)
    {
        long t = xt.shape[0], choices = experts.shape[1], ffn = info.FfnExperts;
        var oneHot = torch.nn.functional.one_hot(experts, ffn);
        var filled = torch.zeros(new[] { ffn }, ScalarType.Int64);
        var columns = new Tensor[choices];
        for (var j = 0; j < choices; j++)
        {
            var column = oneHot.select(1, j);
            var position = ((column.cumsum(0) - column + filled) * column).sum(1);
            var keep = capacity > 0 ? position.lt(capacity).logical_or(experts.select(1, j).ge(info.Experts)) : torch.ones_like(position, ScalarType.Bool);
            columns[j] = torch.where(keep, position, torch.full_like(position, -1));
            filled = filled + column.sum(dim: 0);
        }

        var slots = torch.stack(columns, 1);
        var routedFilled = filled.narrow(0, 0, info.Experts);
        var kept = capacity > 0 ? routedFilled.clamp_max(capacity) : routedFilled;
        var dropped = (routedFilled.sum() - kept.sum()).item<long>();

        var tokenOfChoice = torch.arange(t, ScalarType.Int64).unsqueeze(1).expand(t, choices).reshape(-1);
        var keptChoice = slots.reshape(-1).ge(0);
        var output = torch.zeros(new[] { t, (long)info.Dim }, xt.dtype);
        for (var ex = 0; ex < ffn; ex++)
        {
            var mine = keptChoice.logical_and(experts.reshape(-1).eq(ex)).nonzero().reshape(-1);
            output = Accumulate(info, w, xt, output, ex, tokenOfChoice.index_select(0, mine), gates.reshape(-1).index_select(0, mine));
        }

        return new RouterGraph(output, experts, gates, slots, kept, dropped, losses, experts);
    }

    /// <summary>output + (output[rows] += gate · act(x[rows]·W1[ex] + b1[ex])·W2[ex] + b2[ex]), out of place for autograd.</summary>
    private static Tensor Accumulate(MoeLayerInfo info, IReadOnlyDictionary<string, Tensor> w, Tensor xt, Tensor output, int ex, Tensor rows, Tensor gate)
    {
        if (rows.shape[0] == 0)
        {
            return output;
        }

        var hidden = xt.index_select(0, rows).mm(w["experts.w1"][ex]) + w["experts.b1"][ex];
        var y = TorchMoe.Activate(info, hidden).mm(w["experts.w2"][ex]) + w["experts.b2"][ex];
        return output.index_add(0, rows, y * gate.unsqueeze(1), 1.0);
    }

    /// <summary>Every weight held, as a float32 tensor by name.</summary>
    internal static Dictionary<string, Tensor> Weights(MoeWeights weights) => weights.Names.ToDictionary(n => n, n => TorchMoe.Weight(weights, n));

    /// <summary>The host result; a loss is its weight times cv², multiplied in float as the reference does.</summary>
    private static TorchRouterResult Result(RouterGraph g) => new(
        TorchMoe.Floats(g.Output), TorchMoe.Ints(g.Experts), TorchMoe.Floats(g.Gates), TorchMoe.Ints(g.Slots), TorchMoe.Ints(g.Kept), (int)g.Dropped,
        g.Losses.ToDictionary(l => l.Key, l => l.Value.Weight * (float)l.Value.Cv.item<double>()));

    /// <summary>torch.var (unbiased) / (mean² + 1e-10) in float64, differentiable; 0 for one expert (var of one value is NaN).</summary>
    private static Tensor CvSquared(Tensor v)
    {
        var v64 = v.to(ScalarType.Float64);
        return v.shape[0] < 2 ? torch.zeros(Array.Empty<long>(), ScalarType.Float64) : v64.var() / (v64.mean().square() + 1e-10);
    }
}
