namespace Wudao.Compiler.Codegen;

/// <summary>
/// Native schedules of the route steps that differ from token-choice capacity: expert choice
/// and noisy top-k's losses. They produce exactly what the ILGPU templates produce.
/// </summary>
internal static class CpuRouterTemplates
{
    /// <summary>
    /// Expert choice: per expert, its column's tokens sorted by (score descending, token
    /// ascending) as one 64-bit key each; the first C take slots 0..C−1. Scores are softmax
    /// outputs (≥ 0), whose float bits order like the floats.
    /// </summary>
    public static string ExpertChoiceRoute(EmittedKernel k) => $@"int tokens = args.Tokens;
int cap = args.Capacity;
ulong[] keys = global::System.Buffers.ArrayPool<ulong>.Shared.Rent(tokens);
try
{{
    for (int e = 0; e < Kernels.E; e++)
    {{
        for (int t = 0; t < tokens; t++)
        {{
            uint bits = global::System.BitConverter.SingleToUInt32Bits(global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, (t * Kernels.E) + e));
            keys[t] = ((ulong)~bits << 32) | (uint)t;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, (t * Kernels.E) + e) = -1;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, (t * Kernels.E) + e) = -1;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, (t * Kernels.E) + e) = 0f;
        }}

        global::System.MemoryExtensions.Sort(global::System.MemoryExtensions.AsSpan(keys, 0, tokens));
        for (int r = 0; r < cap; r++)
        {{
            int c = ((int)(uint)keys[r] * Kernels.E) + e;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c) = e;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c) = r;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c) = global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, c);
        }}

        // count + scan: every expert holds exactly C rows, expert after expert.
        global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Facts["kept"]} + e) = cap;
        global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Facts["offsets"]} + e) = e * cap;
    }}
}}
finally
{{
    global::System.Buffers.ArrayPool<ulong>.Shared.Return(keys);
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Facts["offsets"]} + Kernels.E) = Kernels.E * cap;

// Tokens no expert took.
int lost = 0;
for (int t = 0; t < tokens; t++)
{{
    bool any = false;
    for (int e = 0; e < Kernels.E; e++)
    {{
        any |= global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, (t * Kernels.E) + e) >= 0;
    }}

    lost += any ? 0 : 1;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Facts["dropped"]}) = lost;
";

    /// <summary>noisy_loss: per expert, token-order sums of gates and load probabilities, then the weighted CV² of each.</summary>
    public static string NoisyLoss(EmittedKernel k) => $@"
// noisy_loss: importance = Σ gates, load = Σ P(x, e), per expert in token order; weighted CV² of each.
float[] importance = new float[Kernels.E];
float[] load = new float[Kernels.E];
for (int e = 0; e < Kernels.E; e++)
{{
    float imp = 0f;
    float ld = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        for (int j = 0; j < Kernels.K; j++)
        {{
            if (global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, (t * Kernels.K) + j) == e)
            {{
                imp += global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, (t * Kernels.K) + j);
            }}
        }}

        ld += global::System.Runtime.CompilerServices.Unsafe.Add(ref pload, (t * Kernels.E) + e);
    }}

    importance[e] = imp;
    load[e] = ld;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Facts["importance"]}) = global::System.BitConverter.SingleToInt32Bits({k.Facts["importance_weight"]} * global::Wudao.RouterMath.CvSquared(importance));
global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Facts["load"]}) = global::System.BitConverter.SingleToInt32Bits({k.Facts["load_weight"]} * global::Wudao.RouterMath.CvSquared(load));
";
}
