using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>The ILGPU gate: one thread per token, assembled from the gate's optional steps.</summary>
internal static class IlgpuGateEmitter
{
    public static string Body(GateKernel g)
    {
        if (g.TokenBody != null)
        {
            var names = string.Join(", ", g.Parameters.Select(p => p.Name));
            var scratch = g.ScratchRows == 0 ? "default(global::ILGPU.ArrayView<float>)" : $"global::ILGPU.LocalMemory.Allocate<float>({g.ScratchRows} * ER)";
            return $"{g.TokenMethod}(index, {names}, {scratch}, false);";
        }

        // The matmul's load of x: jitter's multiplicative noise is a prologue on that load.
        var load = g.Jitter != null
            ? $"(args.Training != 0 ? x[xo + d] * (1f + ({g.Jitter} * ((2f * global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi ^ global::Wudao.CounterRng.JitterStream, args.Step, unchecked(((args.TokenBase + ti) * D) + d))) - 1f))) : x[xo + d])"
            : "x[xo + d]";
        var body = $@"int ti = index;
long xo = (long)ti * D;
long po = (long)ti * E;
long co = (long)ti * K;
// matmul: router logits, one GEMV per token, kept in the probs row.
float max = float.NegativeInfinity;
for (int e = 0; e < E; e++)
{{
    float acc = 0f;
    for (int d = 0; d < D; d++)
    {{
        acc += {load} * wg[(long)d * E + e];
    }}

    probs[po + e] = acc;
    if (acc > max)
    {{
        max = acc;
    }}
}}

// softmax over experts, in place.
float sum = 0f;
for (int e = 0; e < E; e++)
{{
    float v = global::ILGPU.Algorithms.XMath.Exp(probs[po + e] - max);
    probs[po + e] = v;
    sum += v;
}}

for (int e = 0; e < E; e++)
{{
    probs[po + e] = probs[po + e] / sum;
}}
";
        if (g.LogSumExp)
        {
            body += "\n// logsumexp of the logits, for the router z-loss.\nlse[ti] = max + global::ILGPU.Algorithms.XMath.Log(sum);\n";
        }

        if (g.TopK)
        {
            body += "\n// topk over the probabilities.\n" + RouterTokenFragments.TopKPasses("K", "E", "probs[po + e]", "bestV");
        }

        if (g.Renorm)
        {
            body += @"
// renorm: gates sum to one over the chosen experts (Mixtral, GShard).
for (int j = 0; j < K; j++)
{
    gates[co + j] = gates[co + j] / chosen;
}
";
        }

        if (g.SecondDrop)
        {
            body += @"
// second_drop: while training, keep the second expert with probability min(1, 2*g2), counter-based
// RNG drawn by the token's index in the global batch (the same draw on one rank or many).
if (args.Training != 0 && global::Wudao.CounterRng.Uniform(args.SeedLo, args.SeedHi, args.Step, args.TokenBase + ti) >= 2f * gates[co + 1])
{
    experts[co + 1] = -1;
}
";
        }

        return body;
    }
}
