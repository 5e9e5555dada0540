using System;
using System.Linq;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// The router reference on cases small enough to work out by hand (2–3 experts, 1–4 tokens): the
/// layer tests trust the reference, so the reference is checked against arithmetic first.
/// </summary>
public sealed class RouterReferenceTests
{
    private static readonly float Ln2 = MathF.Log(2);
    private static readonly float HalfLn3 = MathF.Log(3) / 2;

    [Fact]
    public void Softplus_phi_and_cv_squared_match_table_values()
    {
        Assert.Equal(Math.Log(2), RouterReference.Softplus(0), 15);
        Assert.Equal(40, RouterReference.Softplus(40), 12);
        // log(1 + e^−10) = 4.539889921686465e-05 (the stable form keeps 11 digits here; far below fp32).
        Assert.Equal(1, RouterReference.Softplus(-10) / 4.539889921686465e-05, 10);
        Assert.Equal(0.5, RouterReference.Phi(0), 15);
        Assert.Equal(0.8413447460685429, RouterReference.Phi(1), 12);
        Assert.Equal(0.0227501319481792, RouterReference.Phi(-2), 12);
        Assert.Equal(0, RouterReference.Phi(double.NegativeInfinity));
        Assert.Equal(1, RouterReference.Phi(double.PositiveInfinity));

        // [2, 1]: mean 1.5, unbiased variance 0.5, CV² = 0.5 / 2.25 = 2/9.
        Assert.Equal(2 / 9.0, RouterReference.CvSquared([2, 1]), 9);
        Assert.Equal(0, RouterReference.CvSquared([3, 3, 3]));
        Assert.Equal(0, RouterReference.CvSquared([0, 0]));
        Assert.Equal(0, RouterReference.CvSquared([7]));
    }

    [Fact]
    public void Noisy_top1_losses_by_hand()
    {
        // Wg = ln2·I, Wn = 0 so σ = softplus(0) = ln2, ε = 0: H = c = ln2·x.
        // x = (1,0), (2,0), (0,1) → experts 0, 0, 1, gate 1 each: importance [2, 1], CV² = 2/9.
        // Load: chosen e compares with the 2nd largest H, the other with the largest:
        // t0 Φ(1), Φ(−1); t1 Φ(2), Φ(−2); t2 Φ(−1), Φ(1) → load [1 + Φ(2), 1 + Φ(−2)]
        // = [1.97724987, 1.02275013]: mean 1.5, variance 2·0.47724987², CV² = 0.20245994.
        var spec = new RouterSpec(2, 2, 1, 1, Activation.Relu) { ImportanceWeight = 0.5f, LoadWeight = 2f };
        var r = RouterReference.NoisyTopK(spec, NoisyGate([Ln2, 0, 0, Ln2], [0, 0, 0, 0]), [1, 0, 2, 0, 0, 1], 3, (_, _) => 0);

        Assert.Equal([0, 0, 1], r.Experts);
        Assert.Equal([1f, 1f, 1f], r.Gates);
        Assert.Equal([0, 1, 0], r.Slots);
        Assert.Equal([2, 1], r.Kept);
        Assert.Equal(0, r.Capacity);
        Numerics.Close([2f, 1f], r.Importance.Select(v => (float)v).ToArray(), 0, 1e-6f, "importance");
        Numerics.Close([0.8413447f, 0.1586553f, 0.9772499f, 0.0227501f, 0.1586553f, 0.8413447f], r.LoadProbability.Select(v => (float)v).ToArray(), 0, 1e-6f, "P[t,e]");
        Assert.Equal(0.5 * 2 / 9, r.Losses["importance"], 6);
        Assert.Equal(2 * 0.20245994, r.Losses["load"], 6);
        Assert.Equal(["importance", "load"], r.Losses.Keys.Order());
    }

    [Fact]
    public void Noisy_load_estimator_compares_clean_logits_with_noisy_threshold()
    {
        // One token x = (1, 0); Wg = ln2·I; Wn row 0 = (0, 1) so r = (0, 1), σ = (ln2, ln(1+e) = 1.3132617).
        // ε = (0, 1): H = (ln2, 0 + 1.3132617) → expert 1 wins though its clean logit is 0.
        // P[1] = Φ((0 − H0)/σ1) = Φ(−0.5278058) = 0.2988171; P[0] = Φ((ln2 − H1)/ln2) = Φ(−0.8946361) = 0.1854908.
        var spec = new RouterSpec(2, 2, 1, 1, Activation.Relu);
        var r = RouterReference.NoisyTopK(spec, NoisyGate([Ln2, 0, 0, Ln2], [0, 1, 0, 0]), [1, 0], 1, (_, e) => e);

        Assert.Equal([1], r.Experts);
        Numerics.Close([Ln2, 1.3132617f], r.Scores.Select(v => (float)v).ToArray(), 0, 1e-6f, "H");
        Numerics.Close([0.1854908f, 0.2988171f], r.LoadProbability.Select(v => (float)v).ToArray(), 0, 1e-6f, "P[t,e]");
    }

    [Fact]
    public void Noisy_topk_with_k_equal_to_E_has_load_probability_one()
    {
        // k = E = 2: no (k+1)-th value, threshold −∞, P = 1, load [3, 3], CV² 0.
        // Gates: softmax of (ln2, 0) = (2/3, 1/3); of (2ln2, 0) = (4/5, 1/5); token 2 prefers expert 1.
        // Importance [2/3 + 4/5 + 1/3, 1/3 + 1/5 + 2/3] = [1.8, 1.2]: variance 0.18, CV² = 0.18/2.25 = 0.08.
        var spec = new RouterSpec(2, 2, 2, 1, Activation.Relu) { ImportanceWeight = 1f, LoadWeight = 1f };
        var r = RouterReference.NoisyTopK(spec, NoisyGate([Ln2, 0, 0, Ln2], [0, 0, 0, 0]), [1, 0, 2, 0, 0, 1], 3, (_, _) => 0);

        Assert.Equal([0, 1, 0, 1, 1, 0], r.Experts);
        Numerics.Close([2 / 3f, 1 / 3f, 0.8f, 0.2f, 2 / 3f, 1 / 3f], r.Gates, 0, 1e-6f, "gates");
        Assert.All(r.LoadProbability, p => Assert.Equal(1, p));
        Assert.Equal(0.08, r.Losses["importance"], 6);
        Assert.Equal(0, r.Losses["load"]);
    }

    [Fact]
    public void Expert_choice_takes_each_experts_most_probable_tokens()
    {
        // Wg = (1, −1), x = (ln3/2, 0, −ln3/2): p0 = sigmoid(2x) = (3/4, 1/2, 1/4), p1 = 1 − p0.
        // c = 1: C = ceil(1·3/2) = 2. Expert 0 takes t0, t1; expert 1 takes t2, t1: t1 goes to both.
        var r = RouterReference.ExpertChoice(new RouterSpec(1, 2, 1, 1, Activation.Relu) { CapacityFactor = 1f }, Gate([1, -1], 1, 2), [HalfLn3, 0, -HalfLn3], 3);

        Assert.Equal(2, r.Choices);
        Assert.Equal(2, r.Capacity);
        Assert.Equal([0, -1, 0, 1, -1, 1], r.Experts);
        Assert.Equal([0, -1, 1, 1, -1, 0], r.Slots);
        Numerics.Close([0.75f, 0, 0.5f, 0.5f, 0, 0.75f], r.Gates, 0, 1e-6f, "gates");
        Assert.Equal([2, 2], r.Kept);
        Assert.Equal([0, 2, 4], r.Offsets);
        Assert.Equal(0, r.Dropped);
        Assert.Empty(r.Losses);
    }

    [Fact]
    public void Expert_choice_ties_go_to_the_lower_token_and_unchosen_tokens_count_as_dropped()
    {
        // x = (0, 0, ln3/2): p0 = (1/2, 1/2, 3/4), p1 = (1/2, 1/2, 1/4); t0 and t1 tie for both experts.
        var spec = new RouterSpec(1, 2, 1, 1, Activation.Relu);
        var gate = Gate([1, -1], 1, 2);
        float[] x = [0, 0, HalfLn3];

        // c = 0.5: C = ceil(0.75) = 1. Expert 0 takes t2, expert 1 takes t0 (lower of the tie); t1 is left out.
        var tight = RouterReference.ExpertChoice(spec with { CapacityFactor = 0.5f }, gate, x, 3);
        Assert.Equal([-1, 1, -1, -1, 0, -1], tight.Experts);
        Assert.Equal([-1, 0, -1, -1, 0, -1], tight.Slots);
        Assert.Equal([1, 1], tight.Kept);
        Assert.Equal(1, tight.Dropped);

        // c = 1: C = 2. Expert 0: t2 then t0 (ahead of t1 on the tie); expert 1: t0 then t1.
        var loose = RouterReference.ExpertChoice(spec with { CapacityFactor = 1f }, gate, x, 3);
        Assert.Equal([0, 1, -1, 1, 0, -1], loose.Experts);
        Assert.Equal([1, 0, -1, 1, 0, -1], loose.Slots);
        Assert.Equal(0, loose.Dropped);
    }

    [Fact]
    public void Expert_choice_capacity_defaults_to_two_and_is_capped_at_the_token_count()
    {
        var spec = new RouterSpec(1, 2, 1, 1, Activation.Relu);
        var gate = Gate([1, -1], 1, 2);

        // Default c = 2: C = ceil(2·3/2) = 3 = T. c = 4: ceil(6) = 6, capped at T = 3. Every token goes to both.
        foreach (var r in new[] { RouterReference.ExpertChoice(spec, gate, [HalfLn3, 0, -HalfLn3], 3), RouterReference.ExpertChoice(spec with { CapacityFactor = 4f }, gate, [HalfLn3, 0, -HalfLn3], 3) })
        {
            Assert.Equal(3, r.Capacity);
            Assert.Equal([0, 1, 0, 1, 0, 1], r.Experts);
            Assert.Equal([0, 2, 1, 1, 2, 0], r.Slots);
            Assert.Equal([3, 3], r.Kept);
            Assert.Equal([0, 3, 6], r.Offsets);
        }

        var none = RouterReference.ExpertChoice(spec, gate, [], 0);
        Assert.Equal(0, none.Capacity);
        Assert.Equal([0, 0], none.Kept);
    }

    [Fact]
    public void Hash_routes_by_id_with_gate_one_and_token_choice_capacity()
    {
        // Mix(id ^ 0x5BD1E995) mod 2 for ids 3, 5, 0, 4 is 0, 0, 1, 0 (worked out once, pinned here).
        // Factor 1: C = ceil(1·4·1/2) = 2, so the third token of expert 0 (t3) is dropped.
        var r = RouterReference.Hash(new RouterSpec(4, 2, 1, 1, Activation.Relu) { CapacityFactor = 1f }, [3, 5, 0, 4], 4);

        Assert.Equal([0, 0, 1, 0], r.Experts);
        Assert.Equal([1f, 1f, 1f, 1f], r.Gates);
        Assert.Equal([0, 1, 0, -1], r.Slots);
        Assert.Equal([2, 1], r.Kept);
        Assert.Equal(1, r.Dropped);
        Assert.Equal(3, RouterReference.HashExpert(9, 4));
        Assert.Equal(1, RouterReference.HashExpert(2, 4));
    }

    [Fact]
    public void DeepSeek_gates_normalise_sigmoid_scores_and_ignore_the_bias()
    {
        // Wg = (ln3, 0, −ln3), x = 1: s = (3/4, 1/2, 1/4). k = 2, one shared expert (number 3, gate 1).
        // b = 0: experts 0, 1 with gates 0.75/1.25 = 0.6 and 0.4.
        // b = (0, 0, 0.6): s + b = (0.75, 0.5, 0.85) → experts 2, 0; gates from s alone: 0.25/1 and 0.75/1.
        var spec = new RouterSpec(1, 3, 2, 1, Activation.Relu) { SharedExperts = 1 };
        var ln3 = MathF.Log(3);

        var plain = RouterReference.DeepSeek(spec, DeepSeekGate([ln3, 0, -ln3], [0, 0, 0]), [1], 1);
        Assert.Equal(3, plain.Choices);
        Assert.Equal([0, 1, 3], plain.Experts);
        Numerics.Close([0.6f, 0.4f, 1f], plain.Gates, 0, 1e-6f, "gates without bias");
        Assert.Equal([1, 1, 0], plain.Kept);
        Assert.Equal([0, 1, 2, 2, 3], plain.Offsets);

        var biased = RouterReference.DeepSeek(spec, DeepSeekGate([ln3, 0, -ln3], [0, 0, 0.6f]), [1], 1);
        Assert.Equal([2, 0, 3], biased.Experts);
        Numerics.Close([0.25f, 0.75f, 1f], biased.Gates, 0, 1e-6f, "gates with bias");
        Assert.Empty(biased.Losses);
    }

    [Fact]
    public void DeepSeek_capacity_drops_routed_choices_only()
    {
        // Two equal tokens, factor 0.5: C = ceil(0.5·2·2/3) = 1. Token 1's routed choices overflow;
        // the shared expert keeps both tokens (slots 0 and 1).
        var spec = new RouterSpec(1, 3, 2, 1, Activation.Relu) { SharedExperts = 1, CapacityFactor = 0.5f };
        var ln3 = MathF.Log(3);
        var r = RouterReference.DeepSeek(spec, DeepSeekGate([ln3, 0, -ln3], [0, 0, 0]), [1, 1], 2);

        Assert.Equal(1, r.Capacity);
        Assert.Equal([0, 0, 0, -1, -1, 1], r.Slots);
        Assert.Equal([1, 1, 0], r.Kept);
        Assert.Equal(2, r.Dropped);
        Assert.Equal([0, 1, 2, 2, 4], r.Offsets);
    }

    [Fact]
    public void Bias_update_moves_against_the_load()
    {
        // Loads (3, 1, 2), mean 2: signs (+, −, 0), γ = 0.01.
        Assert.Equal([-0.01f, 0.01f, 0f], RouterReference.UpdateBias([0, 0, 0], [3, 1, 2], 0.01f));
        Assert.Equal([0.49f, -0.24f, 0.125f], RouterReference.UpdateBias([0.5f, -0.25f, 0.125f], [3, 1, 2], 0.01f));

        // Mean 7/3 of (4, 3, 0): 4 and 3 are above, 0 below.
        Assert.Equal([-0.5f, -0.5f, 0.5f], RouterReference.UpdateBias([0, 0, 0], [4, 3, 0], 0.5f));
        Assert.Equal([0f, 0f], RouterReference.UpdateBias([0, 0], [5, 5], 0.01f));
    }

    [Fact]
    public void Forward_sums_gate_weighted_expert_outputs_per_token()
    {
        // Against a direct per-token loop: out_t = Σ over kept choices gate · relu(x·W1 + b1)·W2 + b2.
        // DeepSeek exercises the shared expert's rows after the routed ones; expert choice the −1 choices.
        var ln3 = MathF.Log(3);
        var deepSeek = new RouterSpec(2, 3, 2, 3, Activation.Relu) { SharedExperts = 1 };
        var w = WithExperts(DeepSeekGate([ln3, 0, -ln3, 0.5f, 1, -1], [0, 0.3f, 0]), deepSeek);
        float[] x = [1, 0.5f, -1, 2, 0.25f, -0.5f];
        var r = RouterReference.DeepSeek(deepSeek, w, x, 3);
        Numerics.Close(Direct(deepSeek, w, r, x, 3), RouterReference.Forward(deepSeek, w, r, x, 3), what: "DeepSeek forward");

        var choice = new RouterSpec(2, 3, 1, 3, Activation.Relu) { CapacityFactor = 1f };
        var wc = WithExperts(Gate([1, 0, -1, 0.5f, 1, -1], 2, 3), choice);
        var rc = RouterReference.ExpertChoice(choice, wc, x, 3);
        Assert.Contains(-1, rc.Experts);
        Numerics.Close(Direct(choice, wc, rc, x, 3), RouterReference.Forward(choice, wc, rc, x, 3), what: "expert choice forward");
    }

    private static float[] Direct(RouterSpec s, MoeWeights w, RouterRouting r, float[] x, int tokens)
    {
        int d = s.Dim, h = s.Hidden;
        var (w1, b1, w2, b2) = (w["experts.w1"].Data, w["experts.b1"].Data, w["experts.w2"].Data, w["experts.b2"].Data);
        var output = new float[tokens * d];
        for (var c = 0; c < r.Experts.Length; c++)
        {
            if (r.Slots[c] < 0)
            {
                continue;
            }

            int t = c / r.Choices, e = r.Experts[c];
            var hidden = new double[h];
            for (var j = 0; j < h; j++)
            {
                hidden[j] = b1[(e * h) + j];
                for (var i = 0; i < d; i++)
                {
                    hidden[j] += x[(t * d) + i] * w1[(((e * d) + i) * h) + j];
                }

                hidden[j] = Math.Max(0, hidden[j]);
            }

            for (var i = 0; i < d; i++)
            {
                var y = (double)b2[(e * d) + i];
                for (var j = 0; j < h; j++)
                {
                    y += hidden[j] * w2[(((e * h) + j) * d) + i];
                }

                output[(t * d) + i] += (float)(r.Gates[c] * y);
            }
        }

        return output;
    }

    private static MoeWeights Gate(float[] weight, int d, int e) => new([new HostTensor("gate.weight", weight, d, e)]);

    private static MoeWeights NoisyGate(float[] weight, float[] noise) =>
        new([new HostTensor("gate.weight", weight, 2, 2), new HostTensor("gate.noise", noise, 2, 2)]);

    private static MoeWeights DeepSeekGate(float[] weight, float[] bias) =>
        new([new HostTensor("gate.weight", weight, weight.Length / bias.Length, bias.Length), new HostTensor("gate.bias", bias, bias.Length)]);

    /// <summary>The gate tensors plus random FFN weights for E + S experts (relu: W1 is [E', d, h]).</summary>
    private static MoeWeights WithExperts(MoeWeights gate, RouterSpec s)
    {
        int n = s.Experts + s.SharedExperts, d = s.Dim, h = s.Hidden;
        return new MoeWeights(gate.Names.Select(name => gate[name]).Concat(
        [
            new HostTensor("experts.w1", Numerics.RandomInputs(n * d * h, 1), n, d, h),
            new HostTensor("experts.b1", Numerics.RandomInputs(n * h, 2), n, h),
            new HostTensor("experts.w2", Numerics.RandomInputs(n * h * d, 3), n, h, d),
            new HostTensor("experts.b2", Numerics.RandomInputs(n * d, 4), n, d),
        ]));
    }
}
