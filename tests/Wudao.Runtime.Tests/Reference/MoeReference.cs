using System;
using System.Linq;

namespace Wudao.Runtime.Tests.Reference;

/// <summary>The routing results of one batch, as the formulas define them.</summary>
public sealed record RoutingReference(float[] Probs, int[] Experts, float[] Gates, int[] Slots, int[] Kept, int[] Offsets, int Dropped, float AuxLoss, int Capacity)
{
    /// <summary>The router z-loss, weighted; 0 when the layer declares none.</summary>
    public float ZLoss { get; init; }
}

/// <summary>
/// A plain C# MoE layer written from the papers' formulas, stage by stage, sharing no code
/// with the generated kernels: sorting for top-k, a counter loop for capacity, double-precision
/// erf for GELU.
/// </summary>
public static class MoeReference
{
    /// <summary>
    /// Rows each routed expert may take for a batch of <paramref name="tokens"/>, from the declaration:
    /// ceil(factor·T·k/E), or 0 (unlimited); under expert choice C = min(T, ceil(c·T/E)).
    /// </summary>
    public static int Capacity(MoeLayerInfo info, int tokens) => info.Router == RouterKind.ExpertChoice
        ? (int)System.Math.Min(tokens, System.Math.Ceiling((double)info.CapacityFactor * tokens / info.Experts))
        : info.CapacityFactor > 0f ? (int)System.Math.Ceiling((double)info.CapacityFactor * tokens * info.TopK / info.Experts) : 0;

    public static RoutingReference Route(MoeLayerInfo info, MoeWeights w, float[] x, int tokens, CounterSeed seed, int step)
    {
        int d = info.Dim, e = info.Experts, k = info.TopK;
        var wg = w["gate.weight"].Data;
        var probs = new float[tokens * e];
        var experts = new int[tokens * k];
        var gates = new float[tokens * k];
        double zSum = 0;
        for (var t = 0; t < tokens; t++)
        {
            // Switch jitter: the router sees x·U(1−ε, 1+ε), one draw per element by its index.
            var row = new float[d];
            for (var c = 0; c < d; c++)
            {
                var u = CounterRng.Uniform(seed.Lo, seed.Hi ^ CounterRng.JitterStream, step, (t * d) + c);
                row[c] = info.Jitter > 0 ? x[(t * d) + c] * (1f + (info.Jitter * ((2f * u) - 1f))) : x[(t * d) + c];
            }

            var logits = new float[e];
            for (var j = 0; j < e; j++)
            {
                float acc = 0;
                for (var c = 0; c < d; c++)
                {
                    acc += row[c] * wg[(c * e) + j];
                }

                logits[j] = acc;
            }

            var lse = Math.Log(logits.Sum(l => Math.Exp(l)));
            zSum += lse * lse;

            var max = logits.Max();
            var exps = logits.Select(l => MathF.Exp(l - max)).ToArray();
            var sum = exps.Sum();
            for (var j = 0; j < e; j++)
            {
                probs[(t * e) + j] = exps[j] / sum;
            }

            var order = Enumerable.Range(0, e).OrderByDescending(j => probs[(t * e) + j]).ThenBy(j => j).Take(k).ToArray();
            var chosen = order.Sum(j => probs[(t * e) + j]);
            for (var j = 0; j < k; j++)
            {
                experts[(t * k) + j] = order[j];
                var p = probs[(t * e) + order[j]];
                gates[(t * k) + j] = info.Router == RouterKind.Switch ? p : p / chosen;
            }

            // GShard: the second expert is dispatched with probability min(1, 2·g2).
            if (info.Router == RouterKind.GShard && CounterRng.Uniform(seed.Lo, seed.Hi, step, t) >= 2f * gates[(t * k) + 1])
            {
                experts[(t * k) + 1] = -1;
            }
        }

        // Capacity: first choices of all tokens take slots before any second choice (GShard order).
        var capacity = Capacity(info, tokens);
        var filled = new int[e];
        var slots = new int[tokens * k];
        for (var j = 0; j < k; j++)
        {
            for (var t = 0; t < tokens; t++)
            {
                var ex = experts[(t * k) + j];
                slots[(t * k) + j] = -1;
                if (ex >= 0)
                {
                    var pos = filled[ex]++;
                    if (capacity == 0 || pos < capacity)
                    {
                        slots[(t * k) + j] = pos;
                    }
                }
            }
        }

        var kept = filled.Select(f => capacity == 0 ? f : Math.Min(f, capacity)).ToArray();
        var offsets = new int[e + 1];
        for (var j = 0; j < e; j++)
        {
            offsets[j + 1] = offsets[j] + kept[j];
        }

        var dropped = filled.Sum() - kept.Sum();

        // Switch load-balancing loss: α·E·Σ f_i·P_i, f_i = share of tokens whose first choice is i.
        double aux = 0;
        for (var j = 0; j < e && tokens > 0; j++)
        {
            var f = Enumerable.Range(0, tokens).Count(t => experts[t * k] == j) / (double)tokens;
            var p = Enumerable.Range(0, tokens).Sum(t => (double)probs[(t * e) + j]) / tokens;
            aux += f * p;
        }

        return new RoutingReference(probs, experts, gates, slots, kept, offsets, dropped, (float)(info.AuxLossWeight * e * aux), capacity)
        {
            ZLoss = tokens > 0 ? (float)(info.ZLossWeight * zSum / tokens) : 0f,
        };
    }

    /// <summary>Rows in expert-contiguous order: row offsets[e] + slot holds the token's input.</summary>
    public static float[] Dispatch(MoeLayerInfo info, RoutingReference r, float[] x, int tokens)
    {
        int d = info.Dim, k = info.TopK;
        var rows = new float[r.Offsets[^1] * d];
        for (var c = 0; c < tokens * k; c++)
        {
            if (r.Slots[c] >= 0)
            {
                var row = r.Offsets[r.Experts[c]] + r.Slots[c];
                Array.Copy(x, c / k * d, rows, row * d, d);
            }
        }

        return rows;
    }

    /// <summary>Each row through its expert: act(row·W1 + b1)·W2 + b2.</summary>
    public static float[] ExpertFfn(MoeLayerInfo info, MoeWeights w, RoutingReference r, float[] rows)
    {
        int d = info.Dim, h = info.Hidden, e = info.Experts;
        var gated = info.Activation is Activation.SwiGlu or Activation.GeGlu;
        var h1 = gated ? 2 * h : h;
        var (w1, b1, w2, b2) = (w["experts.w1"].Data, w["experts.b1"].Data, w["experts.w2"].Data, w["experts.b2"].Data);
        var y = new float[rows.Length];
        for (var ex = 0; ex < e; ex++)
        {
            for (var row = r.Offsets[ex]; row < r.Offsets[ex + 1]; row++)
            {
                var hidden = new double[h];
                for (var c = 0; c < h; c++)
                {
                    double a = b1[(ex * h1) + c];
                    double u = gated ? b1[(ex * h1) + h + c] : 0;
                    for (var i = 0; i < d; i++)
                    {
                        a += (double)rows[(row * d) + i] * w1[(((ex * d) + i) * h1) + c];
                        if (gated)
                        {
                            u += (double)rows[(row * d) + i] * w1[(((ex * d) + i) * h1) + h + c];
                        }
                    }

                    hidden[c] = info.Activation switch
                    {
                        Activation.Relu => Math.Max(0, a),
                        Activation.Silu => a / (1 + Math.Exp(-a)),
                        Activation.SwiGlu => a / (1 + Math.Exp(-a)) * u,
                        Activation.GeGlu => 0.5 * a * (1 + Erf(a / Math.Sqrt(2))) * u,
                        _ => 0.5 * a * (1 + Erf(a / Math.Sqrt(2))),
                    };
                }

                for (var j = 0; j < d; j++)
                {
                    double acc = b2[(ex * d) + j];
                    for (var c = 0; c < h; c++)
                    {
                        acc += hidden[c] * w2[(((ex * h) + c) * d) + j];
                    }

                    y[(row * d) + j] = (float)acc;
                }
            }
        }

        return y;
    }

    /// <summary>out[t] = Σ_j gate_j · y[row of choice j], over kept choices.</summary>
    public static float[] Combine(MoeLayerInfo info, RoutingReference r, float[] y, int tokens)
    {
        int d = info.Dim, k = info.TopK;
        var output = new float[tokens * d];
        for (var t = 0; t < tokens; t++)
        {
            for (var j = 0; j < k; j++)
            {
                var c = (t * k) + j;
                if (r.Slots[c] >= 0)
                {
                    var row = r.Offsets[r.Experts[c]] + r.Slots[c];
                    for (var i = 0; i < d; i++)
                    {
                        output[(t * d) + i] += r.Gates[c] * y[(row * d) + i];
                    }
                }
            }
        }

        return output;
    }

    public static float[] Forward(MoeLayerInfo info, MoeWeights w, float[] x, int tokens, CounterSeed seed, int step, out RoutingReference routing)
    {
        routing = Route(info, w, x, tokens, seed, step);
        var rows = Dispatch(info, routing, x, tokens);
        var y = ExpertFfn(info, w, routing, rows);
        return Combine(info, routing, y, tokens);
    }

    /// <summary>erf by its Maclaurin series (|x| &lt; 3) or continued fraction for erfc, in double.</summary>
    public static double Erf(double x)
    {
        var ax = Math.Abs(x);
        if (ax < 3)
        {
            double term = ax, sum = ax;
            for (var n = 1; n < 100; n++)
            {
                term *= -ax * ax / n;
                sum += term / ((2 * n) + 1);
            }

            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }

        // erfc(x) = exp(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz-free, evaluated backwards).
        double f = ax;
        for (var n = 60; n >= 1; n--)
        {
            f = ax + (n / 2.0 / f);
        }

        return Math.Sign(x) * (1 - (Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f));
    }
}
