namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native route, on one thread (it is an ordered pass): capacity, count, scan and the
/// losses, or expert choice. Each produces exactly what the ILGPU route produces.
/// </summary>
internal static class CpuRouteEmitter
{
    public static string Body(RouteKernel k)
    {
        if (k.ExpertChoice)
        {
            return ExpertChoice(k) + NonFinite(k);
        }

        var (kept, offsets, dropped) = ("Kernels." + k.Kept, "Kernels." + k.Offsets, "Kernels." + k.Dropped);
        var routed = k.Routed;
        var (exempt, limited) = routed == "E" ? ("", "") : ($" || mine >= {routed}", $" && e < {routed}");
        var body = $@"int tokens = args.Tokens;
int cap = args.Capacity;
global::System.Span<int> filled = stackalloc int[Kernels.E];
filled.Clear();

// capacity: choice-major, token order; past the capacity a choice is dropped (slot -1).
for (int j = 0; j < Kernels.K; j++)
{{
    for (int t = 0; t < tokens; t++)
    {{
        int c = (t * Kernels.K) + j;
        int mine = global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c);
        int slot = -1;
        if (mine >= 0)
        {{
            int pos = filled[mine]++;
            if (cap <= 0 || pos < cap{exempt})
            {{
                slot = pos;
            }}
        }}

        global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c) = slot;
    }}
}}

// count + scan
int off = 0;
int lost = 0;
for (int e = 0; e < Kernels.E; e++)
{{
    int f = filled[e];
    int keep = cap > 0 && f > cap{limited} ? cap : f;
    lost += f - keep;
    global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {kept} + e) = keep;
    global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + e) = off;
    off += keep;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + Kernels.E) = off;
global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {dropped}) = lost;
";
        if (k.NoisyLoss is { } noisy)
        {
            body += NoisyLoss(noisy);
        }

        body += NonFinite(k);
        if (k.ZLoss is { } z)
        {
            body += $@"
// z_loss: weight · mean over tokens of logsumexp², summed in token order.
float zs = 0f;
for (int t = 0; t < tokens; t++)
{{
    float l = global::System.Runtime.CompilerServices.Unsafe.Add(ref lse, t);
    zs += l * l;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{z.Meta}) = global::System.BitConverter.SingleToInt32Bits(tokens > 0 ? {z.Weight} * (zs / tokens) : 0f);
";
        }

        if (k.Aux is { } meta)
        {
            var aux = "Kernels." + meta;
            body += $@"
// aux_loss: per expert, token-order sums, as the GPU kernel does.
float s = 0f;
for (int e = 0; e < Kernels.E; e++)
{{
    float p = 0f;
    int f = 0;
    for (int t = 0; t < tokens; t++)
    {{
        p += global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, (t * Kernels.E) + e);
        if (global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, t * Kernels.K) == e)
        {{
            f++;
        }}
    }}

    s += tokens > 0 ? (f / (float)tokens) * (p / tokens) : 0f;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {aux}) = global::System.BitConverter.SingleToInt32Bits(args.AuxWeight * Kernels.E * s);
";
        }

        return body;
    }

    /// <summary>
    /// Expert choice: per expert, its column's tokens sorted by (score descending, token
    /// ascending) as one 64-bit key each; the first C take slots 0..C−1. Scores are softmax
    /// outputs (≥ 0), whose float bits order like the floats.
    /// </summary>
    private static string ExpertChoice(RouteKernel k) => $@"int tokens = args.Tokens;
int cap = args.Capacity;
ulong[] keys = global::System.Buffers.ArrayPool<ulong>.Shared.Rent(tokens);
try
{{
    for (int e = 0; e < Kernels.E; e++)
    {{
        // A NaN score (a non-finite input row) is never taken: it gets no key, and its NaN gate
        // makes combine write the token's row as NaN.
        int ranked = 0;
        for (int t = 0; t < tokens; t++)
        {{
            float v = global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, (t * Kernels.E) + e);
            if (v == v)
            {{
                keys[ranked++] = ((ulong)~global::System.BitConverter.SingleToUInt32Bits(v) << 32) | (uint)t;
            }}

            global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, (t * Kernels.E) + e) = -1;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, (t * Kernels.E) + e) = -1;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, (t * Kernels.E) + e) = v == v ? 0f : v;
        }}

        global::System.MemoryExtensions.Sort(global::System.MemoryExtensions.AsSpan(keys, 0, ranked));
        for (int r = 0; r < global::System.Math.Min(cap, ranked); r++)
        {{
            int c = ((int)(uint)keys[r] * Kernels.E) + e;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c) = e;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c) = r;
            global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c) = global::System.Runtime.CompilerServices.Unsafe.Add(ref probs, c);
        }}

        // count + scan: every expert holds exactly C rows, expert after expert.
        global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Kept} + e) = cap;
        global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Offsets} + e) = e * cap;
    }}
}}
finally
{{
    global::System.Buffers.ArrayPool<ulong>.Shared.Return(keys);
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Offsets} + Kernels.E) = Kernels.E * cap;

// Tokens no expert took (a non-finite one is counted as such, not as dropped).
int lost = 0;
for (int t = 0; t < tokens; t++)
{{
    bool any = false;
    for (int e = 0; e < Kernels.E; e++)
    {{
        int c = (t * Kernels.E) + e;
        float g = global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c);
        any |= global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c) >= 0 || g != g;
    }}

    lost += any ? 0 : 1;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Dropped}) = lost;
";

    /// <summary>nonfinite: tokens with a NaN or infinite value (v·0 is 0 for finite v, NaN otherwise).</summary>
    private static string NonFinite(RouteKernel k) => k.NonFinite is not { } bad ? "" : $@"
// nonfinite: tokens with a NaN or infinite value (v·0 is 0 for finite v, NaN otherwise).
int bad = 0;
for (int t = 0; t < tokens; t++)
{{
    ref float xr = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, t * Kernels.D);
    var zv = global::System.Numerics.Vector<float>.Zero;
    int d = 0;
    for (; d + global::System.Numerics.Vector<float>.Count <= Kernels.D; d += global::System.Numerics.Vector<float>.Count)
    {{
        zv += global::System.Numerics.Vector.LoadUnsafe(ref xr, (nuint)d) * global::System.Numerics.Vector<float>.Zero;
    }}

    float z = global::System.Numerics.Vector.Sum(zv);
    for (; d < Kernels.D; d++)
    {{
        z += global::System.Runtime.CompilerServices.Unsafe.Add(ref xr, d) * 0f;
    }}

    bad += z == 0f ? 0 : 1;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{bad}) = bad;
";

    /// <summary>noisy_loss: per expert, token-order sums of gates and load probabilities, then the weighted CV² of each.</summary>
    private static string NoisyLoss((string Importance, string Load, string ImportanceWeight, string LoadWeight) k) => $@"
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

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Importance}) = global::System.BitConverter.SingleToInt32Bits({k.ImportanceWeight} * Kernels.CvSquared(importance));
global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, Kernels.{k.Load}) = global::System.BitConverter.SingleToInt32Bits({k.LoadWeight} * Kernels.CvSquared(load));
";
}
