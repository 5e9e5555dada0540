using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao.Runtime.Tests.Reference;

/// <summary>
/// What the reference needs to know of a layer with one of issue #7's routers. Kept apart from
/// <see cref="MoeLayerInfo"/> so that the reference states its inputs itself and does not read
/// them back from what the generator decided.
/// </summary>
public sealed record RouterSpec(int Dim, int Experts, int TopK, int Hidden, Activation Activation)
{
    /// <summary>0: dropless for the token-choice routers, 2 for expert choice.</summary>
    public float CapacityFactor { get; init; }

    /// <summary>Weight of the noisy top-k importance loss.</summary>
    public float ImportanceWeight { get; init; }

    /// <summary>Weight of the noisy top-k load loss.</summary>
    public float LoadWeight { get; init; }

    /// <summary>DeepSeek's always-on experts, numbered after the E routed ones.</summary>
    public int SharedExperts { get; init; }
}

/// <summary>
/// One batch's routing. Choice c = t·Choices + j of token t names an expert (−1: none), a gate and
/// a slot (row within the expert, −1: dropped). <see cref="Kept"/> lists the E routed experts (what
/// statistics report); <see cref="Offsets"/> spans every expert that owns FFN weights (E + shared).
/// </summary>
public sealed record RouterRouting(int Choices, double[] Scores, int[] Experts, float[] Gates, int[] Slots, int[] Kept, int[] Offsets, int Dropped, int Capacity, IReadOnlyDictionary<string, double> Losses)
{
    /// <summary>Noisy top-k: Φ-estimated probability [T,E] that expert e is among token t's k.</summary>
    public double[] LoadProbability { get; init; } = [];

    /// <summary>Noisy top-k: Σ_t gate per expert.</summary>
    public double[] Importance { get; init; } = [];

    /// <summary>Noisy top-k: Σ_t LoadProbability per expert.</summary>
    public double[] Load { get; init; } = [];
}

/// <summary>
/// NoisyTopK, ExpertChoice, Hash and DeepSeek routing written straight from the formulas (issue #7),
/// in double where it costs nothing, by sorting and plain loops. The expert FFN and the combine are
/// <see cref="MoeReference"/>'s, so only routing is new here.
/// </summary>
public static class RouterReference
{
    /// <summary>The reference's view of a generated layer: shape and the router options it declared.</summary>
    public static RouterSpec Spec(MoeLayerInfo info) => new(info.Dim, info.Experts, info.TopK, info.Hidden, info.Activation)
    {
        CapacityFactor = info.CapacityFactor,
        ImportanceWeight = info.Options.ImportanceWeight,
        LoadWeight = info.Options.LoadWeight,
        SharedExperts = info.Options.SharedExperts,
    };

    /// <summary>The contract's ε of noisy top-k: one standard normal per (token, expert) from the layer's seed and step.</summary>
    public static Func<int, int, double> CounterNoise(CounterSeed seed, int step, int experts, int tokenBase = 0) =>
        (t, e) => CounterRng.Normal(seed.Lo, seed.Hi ^ CounterRng.NoiseStream, step, ((tokenBase + t) * experts) + e);

    /// <summary>Routes a batch with the router the layer declares (ids only for hash routing).</summary>
    public static RouterRouting Route(MoeLayerInfo info, MoeWeights w, float[] x, int tokens, CounterSeed seed, int step, int[]? ids = null)
    {
        var s = Spec(info);
        return info.Router switch
        {
            RouterKind.NoisyTopK => NoisyTopK(s, w, x, tokens, CounterNoise(seed, step, info.Experts)),
            RouterKind.ExpertChoice => ExpertChoice(s, w, x, tokens),
            RouterKind.Hash => Hash(s, ids ?? throw new ArgumentNullException(nameof(ids), "hash routing needs token ids"), tokens),
            RouterKind.DeepSeek => DeepSeek(s, w, x, tokens),
            _ => throw new ArgumentOutOfRangeException(nameof(info), info.Router, "RouterReference covers NoisyTopK, ExpertChoice, Hash and DeepSeek; MoeReference the others"),
        };
    }

    /// <summary>
    /// The dense routing [T, E + S]: entry (t, e) is the gate token t gives expert e if that choice
    /// was kept, else 0. What a layer whose expert e outputs the basis vector e returns as output.
    /// </summary>
    public static float[] DenseGates(RouterRouting r, int tokens, int ffnExperts)
    {
        var dense = new float[tokens * ffnExperts];
        for (var c = 0; c < r.Experts.Length; c++)
        {
            if (r.Slots[c] >= 0)
            {
                dense[(c / r.Choices * ffnExperts) + r.Experts[c]] += r.Gates[c];
            }
        }

        return dense;
    }

    /// <summary>Noisy top-k (Shazeer 2017): H = x·Wg + ε·softplus(x·Wn); ε(t, e) is the caller's standard normal.</summary>
    public static RouterRouting NoisyTopK(RouterSpec s, MoeWeights w, float[] x, int tokens, Func<int, int, double> epsilon)
    {
        int e = s.Experts, k = s.TopK;
        var clean = Logits(s, w["gate.weight"].Data, x, tokens);
        var raw = Logits(s, w["gate.noise"].Data, x, tokens);
        var noisy = new double[tokens * e];
        var sigma = new double[tokens * e];
        var experts = new int[tokens * k];
        var gates = new float[tokens * k];
        var p = new double[tokens * e];
        var importance = new double[e];
        var load = new double[e];
        for (var t = 0; t < tokens; t++)
        {
            for (var j = 0; j < e; j++)
            {
                sigma[(t * e) + j] = Softplus(raw[(t * e) + j]);
                noisy[(t * e) + j] = clean[(t * e) + j] + (epsilon(t, j) * sigma[(t * e) + j]);
            }

            var order = Descending(noisy, t * e, e);
            var top = noisy[(t * e) + order[0]];
            var sum = Enumerable.Range(0, k).Sum(j => Math.Exp(noisy[(t * e) + order[j]] - top));
            for (var j = 0; j < k; j++)
            {
                experts[(t * k) + j] = order[j];
                var g = Math.Exp(noisy[(t * e) + order[j]] - top) / sum;
                gates[(t * k) + j] = (float)g;
                importance[order[j]] += g;
            }

            // Φ((clean − threshold)/σ): the threshold is the k-th largest noisy value among the
            // other experts, i.e. the (k+1)-th overall for a chosen expert, the k-th otherwise.
            for (var rank = 0; rank < e; rank++)
            {
                var j = order[rank];
                double threshold = rank < k
                    ? (k < e ? noisy[(t * e) + order[k]] : double.NegativeInfinity)
                    : noisy[(t * e) + order[k - 1]];
                p[(t * e) + j] = Phi((clean[(t * e) + j] - threshold) / sigma[(t * e) + j]);
                load[j] += p[(t * e) + j];
            }
        }

        var routing = TokenChoice(s, experts, gates, tokens, k, noisy);
        var losses = new Dictionary<string, double>
        {
            ["importance"] = s.ImportanceWeight * CvSquared(importance),
            ["load"] = s.LoadWeight * CvSquared(load),
        };
        return routing with { Losses = losses, LoadProbability = p, Importance = importance, Load = load };
    }

    /// <summary>
    /// Expert choice (Zhou 2022): each expert takes its C = min(T, ceil(c·T/E)) most probable tokens
    /// (ties: lower token first). Choice t·E + e is expert e's pick of token t, or −1.
    /// </summary>
    public static RouterRouting ExpertChoice(RouterSpec s, MoeWeights w, float[] x, int tokens)
    {
        var e = s.Experts;
        var factor = s.CapacityFactor > 0 ? s.CapacityFactor : 2f;
        var capacity = Math.Min(tokens, (int)Math.Ceiling((double)factor * tokens / e));
        var logits = Logits(s, w["gate.weight"].Data, x, tokens);
        var probs = new double[tokens * e];
        for (var t = 0; t < tokens; t++)
        {
            var max = Enumerable.Range(0, e).Max(j => logits[(t * e) + j]);
            var sum = Enumerable.Range(0, e).Sum(j => Math.Exp(logits[(t * e) + j] - max));
            for (var j = 0; j < e; j++)
            {
                probs[(t * e) + j] = Math.Exp(logits[(t * e) + j] - max) / sum;
            }
        }

        var experts = Enumerable.Repeat(-1, tokens * e).ToArray();
        var slots = Enumerable.Repeat(-1, tokens * e).ToArray();
        var gates = new float[tokens * e];
        for (var j = 0; j < e; j++)
        {
            var column = Enumerable.Range(0, tokens).Select(t => probs[(t * e) + j]).ToArray();
            var order = Descending(column, 0, tokens);
            for (var rank = 0; rank < capacity; rank++)
            {
                var t = order[rank];
                experts[(t * e) + j] = j;
                slots[(t * e) + j] = rank;
                gates[(t * e) + j] = (float)probs[(t * e) + j];
            }
        }

        var kept = Enumerable.Repeat(capacity, e).ToArray();
        var dropped = Enumerable.Range(0, tokens).Count(t => Enumerable.Range(0, e).All(j => experts[(t * e) + j] < 0));
        return new RouterRouting(e, probs, experts, gates, slots, kept, Prefix(kept), dropped, capacity, new Dictionary<string, double>());
    }

    /// <summary>Hash routing (Roller 2021): the token id alone picks the expert, gate 1.</summary>
    public static RouterRouting Hash(RouterSpec s, int[] ids, int tokens)
    {
        var experts = Enumerable.Range(0, tokens).Select(t => HashExpert(ids[t], s.Experts)).ToArray();
        var gates = Enumerable.Repeat(1f, tokens).ToArray();
        return TokenChoice(s, experts, gates, tokens, 1, []);
    }

    /// <summary>The contract's hash: Mix(id ^ 0x5BD1E995) mod E.</summary>
    public static int HashExpert(int id, int experts) => (int)(CounterRng.Mix((uint)id ^ 0x5BD1E995u) % (uint)experts);

    /// <summary>
    /// DeepSeek-V3: s = sigmoid(x·Wg); the k largest s + b are chosen (b only selects), gates are
    /// s / Σ s over the chosen; then the S shared experts E..E+S−1 with gate 1, never dropped.
    /// </summary>
    public static RouterRouting DeepSeek(RouterSpec s, MoeWeights w, float[] x, int tokens)
    {
        int e = s.Experts, k = s.TopK, shared = s.SharedExperts, choices = k + shared;
        var logits = Logits(s, w["gate.weight"].Data, x, tokens);
        var bias = w["gate.bias"].Data;
        var scores = logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray();
        var biased = new double[tokens * e];
        var experts = new int[tokens * choices];
        var gates = new float[tokens * choices];
        for (var t = 0; t < tokens; t++)
        {
            for (var j = 0; j < e; j++)
            {
                biased[(t * e) + j] = scores[(t * e) + j] + bias[j];
            }

            var order = Descending(biased, t * e, e);
            var sum = Enumerable.Range(0, k).Sum(j => scores[(t * e) + order[j]]);
            for (var j = 0; j < k; j++)
            {
                experts[(t * choices) + j] = order[j];
                gates[(t * choices) + j] = (float)(scores[(t * e) + order[j]] / sum);
            }

            for (var i = 0; i < shared; i++)
            {
                experts[(t * choices) + k + i] = e + i;
                gates[(t * choices) + k + i] = 1f;
            }
        }

        return TokenChoice(s, experts, gates, tokens, choices, scores);
    }

    /// <summary>Aux-loss-free balancing: b_i ← b_i − γ·sign(load_i − mean load), sign(0) = 0.</summary>
    public static float[] UpdateBias(IReadOnlyList<float> bias, IReadOnlyList<int> load, float rate)
    {
        var mean = load.Sum(l => (double)l) / load.Count;
        return bias.Select((b, i) => b - (rate * Math.Sign(load[i] - mean))).ToArray();
    }

    /// <summary>The layer's output: routed (and shared) rows through MoeReference's FFN, gate-weighted.</summary>
    public static float[] Forward(RouterSpec s, MoeWeights w, RouterRouting r, float[] x, int tokens)
    {
        // MoeReference sizes its loops from an info: E + S experts own FFN weights, Choices per token.
        var shape = new MoeLayerInfo("reference", s.Dim, s.Experts + s.SharedExperts, r.Choices, s.Hidden, s.Activation, RouterKind.TopK, 0f, 0f, [], "", "");
        var moe = new RoutingReference([], r.Experts, r.Gates, r.Slots, [], r.Offsets, r.Dropped, 0f, r.Capacity);
        var rows = MoeReference.Dispatch(shape, moe, x, tokens);
        var y = MoeReference.ExpertFfn(shape, w, moe, rows);
        return MoeReference.Combine(shape, moe, y, tokens);
    }

    /// <summary>log(1 + e^r) without overflow: max(r, 0) + log(1 + e^−|r|).</summary>
    public static double Softplus(double r) => Math.Max(r, 0) + Math.Log(1 + Math.Exp(-Math.Abs(r)));

    /// <summary>Standard normal CDF.</summary>
    public static double Phi(double z) => double.IsNegativeInfinity(z) ? 0 : double.IsPositiveInfinity(z) ? 1 : 0.5 * (1 + MoeReference.Erf(z / Math.Sqrt(2)));

    /// <summary>Squared coefficient of variation: unbiased variance / (mean² + 1e-10); 0 for fewer than two values.</summary>
    public static double CvSquared(IReadOnlyList<double> v)
    {
        if (v.Count < 2)
        {
            return 0;
        }

        var mean = v.Average();
        var variance = v.Sum(a => (a - mean) * (a - mean)) / (v.Count - 1);
        return variance / ((mean * mean) + 1e-10);
    }

    /// <summary>
    /// Capacity slotting shared by the token-choice routers: a slot is the count of earlier choices of
    /// the same expert, all tokens' column j before any column j + 1 (as MoeReference). Columns naming
    /// an expert ≥ E (shared) get the token index and are never dropped.
    /// </summary>
    private static RouterRouting TokenChoice(RouterSpec s, int[] experts, float[] gates, int tokens, int choices, double[] scores)
    {
        int e = s.Experts, ffnExperts = e + s.SharedExperts;
        var routed = choices - s.SharedExperts;
        var capacity = s.CapacityFactor > 0 ? (int)Math.Ceiling((double)s.CapacityFactor * tokens * routed / e) : 0;
        var filled = new int[ffnExperts];
        var slots = new int[tokens * choices];
        for (var j = 0; j < choices; j++)
        {
            for (var t = 0; t < tokens; t++)
            {
                var ex = experts[(t * choices) + j];
                var pos = filled[ex]++;
                slots[(t * choices) + j] = ex >= e || capacity == 0 || pos < capacity ? pos : -1;
            }
        }

        var rows = filled.Select((f, i) => i >= e || capacity == 0 ? f : Math.Min(f, capacity)).ToArray();
        var dropped = filled.Take(e).Sum() - rows.Take(e).Sum();
        return new RouterRouting(choices, scores, experts, gates, slots, rows.Take(e).ToArray(), Prefix(rows), dropped, capacity, new Dictionary<string, double>());
    }

    /// <summary>Row-major x·W for W [d, E], summed in double.</summary>
    private static double[] Logits(RouterSpec s, float[] weight, float[] x, int tokens)
    {
        int d = s.Dim, e = s.Experts;
        var logits = new double[tokens * e];
        for (var t = 0; t < tokens; t++)
        {
            for (var j = 0; j < e; j++)
            {
                double acc = 0;
                for (var c = 0; c < d; c++)
                {
                    acc += (double)x[(t * d) + c] * weight[(c * e) + j];
                }

                logits[(t * e) + j] = acc;
            }
        }

        return logits;
    }

    /// <summary>Indices 0..n−1 of values[start..start+n) by value, descending; ties keep the lower index first.</summary>
    private static int[] Descending(double[] values, int start, int n) =>
        Enumerable.Range(0, n).OrderByDescending(i => values[start + i]).ThenBy(i => i).ToArray();

    private static int[] Prefix(int[] counts)
    {
        var offsets = new int[counts.Length + 1];
        for (var i = 0; i < counts.Length; i++)
        {
            offsets[i + 1] = offsets[i] + counts[i];
        }

        return offsets;
    }
}
