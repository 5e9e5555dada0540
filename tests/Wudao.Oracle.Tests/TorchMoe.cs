using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>What the libtorch layer computed: routing per token, statistics and the output.</summary>
public sealed record TorchMoeResult(float[] Output, float[] Probs, int[] Experts, float[] Gates, int[] Slots, int[] Kept, int Dropped, float AuxLoss, int Capacity);

/// <summary>
/// The layer's tensors: Chosen the top-k indices, Experts the same after GShard's drop (-1),
/// Slots the capacity slots (-1: dropped), Aux the weighted load-balancing loss (float64 scalar).
/// </summary>
internal sealed record MoeGraph(Tensor Output, Tensor Probs, Tensor Chosen, Tensor Experts, Tensor Gates, Tensor Slots, Tensor Kept, long Dropped, Tensor Aux, int Capacity);

/// <summary>
/// The MoE layer written again with libtorch operations (TorchSharp), as an oracle independent of
/// both the generated kernels and the plain C# reference: matmul, softmax and topk for routing,
/// one-hot cumulative sums for capacity, index_select / mm / index_add_ for the experts. It shares
/// with Wudao only the weights and the counter-based RNG that decides GShard's second expert
/// (host-drawn uniforms, made into a tensor).
/// </summary>
public static partial class TorchMoe
{
    private static int _initialised;

    /// <summary>
    /// libtorch's OpenMP workers spin while waiting; on a small shared machine that starves the
    /// CPU accelerator's threads. The layers here are tiny, so one intra-op thread is enough.
    /// (Setting OMP_WAIT_POLICY with Environment.SetEnvironmentVariable would not help: on Linux
    /// .NET keeps its own copy of the environment, which native getenv does not see.)
    /// </summary>
    public static void Initialise()
    {
        if (Interlocked.Exchange(ref _initialised, 1) == 0)
        {
            torch.set_num_threads(1);
        }
    }

    public static TorchMoeResult Forward(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, CounterSeed seed, int step)
    {
        Initialise();
        using var scope = torch.NewDisposeScope();
        var xt = torch.tensor(x, new[] { (long)tokens, info.Dim });
        var g = Graph(info, xt, WeightNames.ToDictionary(n => n, n => Weight(weights, n)), seed, step);
        return new TorchMoeResult(
            Floats(g.Output),
            Floats(g.Probs),
            Ints(g.Experts),
            Floats(g.Gates),
            Ints(g.Slots),
            Ints(g.Kept),
            (int)g.Dropped,
            (float)g.Aux.item<double>(),
            g.Capacity);
    }

    /// <summary>The weights the layer reads (TopK, Switch, GShard), in the layout of <see cref="MoeWeights"/>.</summary>
    internal static readonly string[] WeightNames = { "gate.weight", "experts.w1", "experts.b1", "experts.w2", "experts.b2" };

    /// <summary>
    /// The layer as a graph of torch operations on <paramref name="xt"/> [tokens, Dim] and the weights,
    /// in their dtype (float32 for the oracle, float64 for finite differences), so it can run on
    /// leaves that require grad: <see cref="Forward"/> and <see cref="Gradients"/> share it.
    /// Routing (top-k indices, GShard's drop, capacity) is integer and carries no gradient; the
    /// gates carry it through the top-k values. <paramref name="routing"/>, when given, replaces the
    /// decisions (top-k indices and the experts after GShard's drop) by earlier ones, so a finite
    /// difference can perturb the inputs without a near tie flipping a choice.
    /// </summary>
    internal static MoeGraph Graph(MoeLayerInfo info, Tensor xt, IReadOnlyDictionary<string, Tensor> w, CounterSeed seed, int step, (Tensor Chosen, Tensor Experts)? routing = null)
    {
        long t = xt.shape[0], d = info.Dim, e = info.Experts, k = info.TopK;
        var tokens = (int)t;

        // Router: logits = x·Wg, softmax over experts, the k largest (sorted, so column 0 is the first choice).
        var probs = xt.mm(w["gate.weight"]).softmax(1);
        var (top, chosen) = probs.topk((int)k, dim: 1, largest: true, sorted: true);
        if (routing is { } fixedRouting)
        {
            chosen = fixedRouting.Chosen;
            top = probs.gather(1, chosen);
        }

        var gates = info.Router == RouterKind.Switch ? top : top / top.sum(1, keepdim: true);
        var experts = chosen;

        // GShard: the second expert is kept with probability min(1, 2·g2), i.e. dropped when u ≥ 2·g2.
        if (routing is { } given)
        {
            experts = given.Experts;
        }
        else if (info.Router == RouterKind.GShard)
        {
            var u = torch.tensor(Enumerable.Range(0, tokens).Select(i => CounterRng.Uniform(seed.Lo, seed.Hi, step, i)).ToArray(), new[] { t }).to(gates.dtype);
            var second = torch.where(u >= gates.select(1, 1).detach() * 2f, torch.full_like(experts.select(1, 1), -1), experts.select(1, 1));
            experts = torch.stack(new[] { experts.select(1, 0), second }, 1);
        }

        // Capacity, choice-major in token order: a choice's position is the number of earlier
        // choices of its expert, counting every token's previous columns first.
        // (Reductions name their dimension, sum(dim: 0): a bare literal 0 would bind to the
        // sum(ScalarType) overload and sum everything as bytes.)
        var capacity = Wudao.Runtime.Tests.Reference.MoeReference.Capacity(info, tokens);
        var valid = experts.ge(0);
        var oneHot = torch.nn.functional.one_hot(experts.clamp_min(0), e) * valid.unsqueeze(-1).to(ScalarType.Int64);
        var filled = torch.zeros(new[] { e }, ScalarType.Int64);
        var slotColumns = new Tensor[k];
        for (var j = 0; j < k; j++)
        {
            var column = oneHot.select(1, j);
            var position = ((column.cumsum(0) - column + filled) * column).sum(1);
            var keep = valid.select(1, j);
            if (capacity > 0)
            {
                keep = keep.logical_and(position.lt(capacity));
            }

            slotColumns[j] = torch.where(keep, position, torch.full_like(position, -1));
            filled = filled + column.sum(dim: 0);
        }

        var slots = torch.stack(slotColumns, 1);
        var kept = capacity > 0 ? filled.clamp_max(capacity) : filled;
        var dropped = (filled.sum() - kept.sum()).item<long>();

        // Load-balancing loss α·E·Σ f_i·P_i: f_i = share of tokens whose first choice is i (a count,
        // no gradient), P_i = mean probability (differentiable). Summed in float64, like the reference;
        // α·E is formed in float, as the reference's float·long product is.
        var perToken = Math.Max(1, tokens);
        var f = torch.nn.functional.one_hot(experts.select(1, 0), e).sum(dim: 0).to(ScalarType.Float64) / perToken;
        var p = probs.to(ScalarType.Float64).sum(dim: 0) / perToken;
        var aux = (f * p).sum() * (double)(info.AuxLossWeight * e);

        // Experts: each gathers its kept rows, runs act(x·W1 + b1)·W2 + b2, and adds them back gate-weighted.
        var (w1, b1, w2, b2) = (w["experts.w1"], w["experts.b1"], w["experts.w2"], w["experts.b2"]);
        var tokenOfChoice = torch.arange(t, ScalarType.Int64).unsqueeze(1).expand(t, k).reshape(-1);
        var expertOfChoice = experts.reshape(-1);
        var keptChoice = slots.reshape(-1).ge(0);
        var gateOfChoice = gates.reshape(-1);
        var output = torch.zeros(new[] { t, d }, xt.dtype);
        for (var ex = 0; ex < e; ex++)
        {
            var mine = keptChoice.logical_and(expertOfChoice.eq(ex)).nonzero().reshape(-1);
            if (mine.shape[0] == 0)
            {
                continue;
            }

            var rows = tokenOfChoice.index_select(0, mine);
            var hidden = xt.index_select(0, rows).mm(w1[ex]) + b1[ex];
            var activated = Activate(info, hidden);
            var y = activated.mm(w2[ex]) + b2[ex];
            output = output.index_add(0, rows, y * gateOfChoice.index_select(0, mine).unsqueeze(1), 1.0);
        }

        return new MoeGraph(output, probs, chosen, experts, gates, slots, kept, dropped, aux, capacity);
    }

    /// <summary>
    /// Per token, whether its routing is too close to call in fp32: two of its k+1 largest router
    /// probabilities within a relative 1e-4 of each other, or (GShard) u within 1e-4 of 2·g2.
    /// Computed in float64, so it does not share the rounding of either fp32 side.
    /// </summary>
    public static bool[] NearTies(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, CounterSeed seed, int step)
    {
        Initialise();
        using var scope = torch.NewDisposeScope();
        long t = tokens, d = info.Dim;
        var m = Math.Min(info.TopK + 1, info.Experts);
        var xt = torch.tensor(x, new[] { t, d }).to(ScalarType.Float64);
        var probs = xt.mm(Weight(weights, "gate.weight").to(ScalarType.Float64)).softmax(1);
        var (top, _) = probs.topk(m, dim: 1, largest: true, sorted: true);
        var near = torch.zeros(new[] { t }, ScalarType.Bool);
        if (m > 1)
        {
            var higher = top.narrow(1, 0, m - 1);
            var gaps = (higher - top.narrow(1, 1, m - 1)) / higher;
            near = near.logical_or(gaps.lt(1e-4).any(1));
        }

        if (info.Router == RouterKind.GShard)
        {
            var u = torch.tensor(Enumerable.Range(0, tokens).Select(i => (double)CounterRng.Uniform(seed.Lo, seed.Hi, step, i)).ToArray(), new[] { t });
            var g2 = top.select(1, 1) / (top.select(1, 0) + top.select(1, 1));
            near = near.logical_or((u - (g2 * 2)).abs().lt(1e-4));
        }

        return tokens == 0 ? [] : near.data<bool>().ToArray();
    }

    internal static Tensor Activate(MoeLayerInfo info, Tensor hidden)
    {
        switch (info.Activation)
        {
            case Activation.Gelu:
                return torch.nn.functional.gelu(hidden);
            case Activation.Relu:
                return torch.nn.functional.relu(hidden);
            case Activation.Silu:
                return torch.nn.functional.silu(hidden);
            case Activation.SwiGlu:
                var h = info.Hidden;
                return torch.nn.functional.silu(hidden.narrow(1, 0, h)) * hidden.narrow(1, h, h);
            case Activation.GeGlu:
                return torch.nn.functional.gelu(hidden.narrow(1, 0, info.Hidden)) * hidden.narrow(1, info.Hidden, info.Hidden);
            default:
                throw new ArgumentOutOfRangeException(nameof(info), info.Activation, "unknown activation");
        }
    }

    internal static Tensor Weight(MoeWeights weights, string name)
    {
        var w = weights[name];
        return torch.tensor(w.Data, w.Shape.Select(s => (long)s).ToArray());
    }

    // TorchSharp's accessor throws on an empty tensor (0 tokens), so those are read as empty arrays.
    internal static float[] Floats(Tensor tensor) => tensor.numel() == 0 ? [] : tensor.data<float>().ToArray();

    internal static int[] Ints(Tensor tensor) => tensor.numel() == 0 ? [] : tensor.to(ScalarType.Int32).data<int>().ToArray();
}
