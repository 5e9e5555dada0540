namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ILGPU route: one group walks the batch in order (capacity, count, scan, losses), or, under
/// expert choice, ranks each expert's column.
/// </summary>
internal static class IlgpuRouteEmitter
{
    public static string Body(RouteKernel r)
    {
        if (r.ExpertChoice)
        {
            return ExpertChoice(r) + NonFinite(r);
        }

        // Shared experts (index ≥ routed) take every token: capacity limits the routed ones only.
        var routed = r.Routed;
        var (exempt, limited) = routed == "E" ? ("", "") : ($" || mine >= {routed}", $" && e < {routed}");
        var (kept, offsets, dropped) = (r.Kept, r.Offsets, r.Dropped);
        var body = $@"var filled = global::ILGPU.SharedMemory.Allocate<int>(E);
var chunk = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
var partial = global::ILGPU.SharedMemory.Allocate<float>(E);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;
int tokens = args.Tokens;
int cap = args.Capacity;
for (int e = tid; e < E; e += g)
{{
    filled[e] = 0;
}}

global::ILGPU.Group.Barrier();

// capacity: choice-major, token order. A choice's slot is the number of earlier choices of
// the same expert; past the capacity it is dropped (slot -1). Deterministic by construction.
for (int j = 0; j < K; j++)
{{
    for (int b = 0; b < tokens; b += g)
    {{
        int t = b + tid;
        int mine = t < tokens ? experts[(long)t * K + j] : -1;
        chunk[tid] = mine;
        global::ILGPU.Group.Barrier();
        if (t < tokens)
        {{
            int slot = -1;
            if (mine >= 0)
            {{
                int rank = 0;
                for (int i = 0; i < tid; i++)
                {{
                    if (chunk[i] == mine)
                    {{
                        rank++;
                    }}
                }}

                int pos = filled[mine] + rank;
                if (cap <= 0 || pos < cap{exempt})
                {{
                    slot = pos;
                }}
            }}

            slots[(long)t * K + j] = slot;
        }}

        global::ILGPU.Group.Barrier();
        for (int e = tid; e < E; e += g)
        {{
            int c = 0;
            for (int i = 0; i < g; i++)
            {{
                if (chunk[i] == e)
                {{
                    c++;
                }}
            }}

            filled[e] += c;
        }}

        global::ILGPU.Group.Barrier();
    }}
}}

// count + scan: kept rows per expert and their exclusive prefix sum (expert-contiguous layout).
if (tid == 0)
{{
    int off = 0;
    int lost = 0;
    for (int e = 0; e < E; e++)
    {{
        int f = filled[e];
        int keep = cap > 0 && f > cap{limited} ? cap : f;
        lost += f - keep;
        meta[{kept} + e] = keep;
        meta[{offsets} + e] = off;
        off += keep;
    }}

    meta[{offsets} + E] = off;
    meta[{dropped}] = lost;
}}
";
        if (r.Aux is { } aux)
        {
            body += $@"
// aux_loss: alpha * E * sum_i f_i * P_i; f_i = share of tokens whose first choice is i,
// P_i = mean router probability of i. Each expert's sums run in token order.
for (int e = tid; e < E; e += g)
{{
    float p = 0f;
    int f = 0;
    for (int t = 0; t < tokens; t++)
    {{
        p += probs[(long)t * E + e];
        if (experts[(long)t * K] == e)
        {{
            f++;
        }}
    }}

    partial[e] = tokens > 0 ? (f / (float)tokens) * (p / tokens) : 0f;
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    float s = 0f;
    for (int e = 0; e < E; e++)
    {{
        s += partial[e];
    }}

    meta[{aux}] = (int)global::ILGPU.Interop.FloatAsInt(args.AuxWeight * E * s);
}}
";
        }

        if (r.ZLoss is { } z)
        {
            body += $@"
// z_loss: weight · mean over tokens of logsumexp², summed in token order.
if (tid == 0)
{{
    float zs = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        zs += lse[t] * lse[t];
    }}

    meta[{z.Meta}] = (int)global::ILGPU.Interop.FloatAsInt(tokens > 0 ? {z.Weight} * (zs / tokens) : 0f);
}}
";
        }

        if (r.NoisyLoss is { } noisy)
        {
            body += NoisyLoss(noisy);
        }

        return body + NonFinite(r);
    }

    /// <summary>nonfinite: tokens with a NaN or infinite value, each thread its strided share, thread 0 adds them.</summary>
    private static string NonFinite(RouteKernel r) => r.NonFinite is not { } bad ? "" : $@"
// nonfinite: tokens with a NaN or infinite value, each thread its strided share, thread 0 adds them.
var badShare = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
int mineBad = 0;
for (int t = tid; t < tokens; t += g)
{{
    bool finite = true;
    for (int d = 0; d < D; d++)
    {{
        finite &= x[((long)t * D) + d] * 0f == 0f;
    }}

    mineBad += finite ? 0 : 1;
}}

badShare[tid] = mineBad;
global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    int bad = 0;
    for (int i = 0; i < g; i++)
    {{
        bad += badShare[i];
    }}

    meta[{bad}] = bad;
}}
";

    /// <summary>
    /// noisy_loss: per expert (one thread each), importance = Σ gates and load = Σ P(x, e) in token
    /// order; thread 0 weighs CV² of each (unbiased variance over E − 1, as torch's var).
    /// </summary>
    private static string NoisyLoss((string Importance, string Load, string ImportanceWeight, string LoadWeight) noisy) => $@"
// importance reuses the aux-loss scratch (noisy top-k has no aux loss): shared memory stays at 12 bytes per expert.
var importance = partial;
var load = global::ILGPU.SharedMemory.Allocate<float>(E);
for (int e = tid; e < E; e += g)
{{
    float imp = 0f;
    float ld = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        for (int j = 0; j < K; j++)
        {{
            if (experts[((long)t * K) + j] == e)
            {{
                imp += gates[((long)t * K) + j];
            }}
        }}

        ld += pload[((long)t * E) + e];
    }}

    importance[e] = imp;
    load[e] = ld;
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    meta[{noisy.Importance}] = (int)global::ILGPU.Interop.FloatAsInt({noisy.ImportanceWeight} * CvSquared(importance));
    meta[{noisy.Load}] = (int)global::ILGPU.Interop.FloatAsInt({noisy.LoadWeight} * CvSquared(load));
}}
";

    /// <summary>
    /// Expert choice (Zhou 2022), one group: each (token, expert) pair's rank in the expert's
    /// column (score descending, ties to the lower token) decides whether the expert takes it.
    /// </summary>
    private static string ExpertChoice(RouteKernel r)
    {
        var (kept, offsets, dropped) = (r.Kept, r.Offsets, r.Dropped);
        var body = $@"var unrouted = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;
int tokens = args.Tokens;
int cap = args.Capacity;

// expert_choice: pair (t, e) is taken when fewer than C tokens outrank t in column e.
for (long i = tid; i < (long)tokens * E; i += g)
{{
    int t = (int)(i / E);
    int e = (int)(i - ((long)t * E));
    float v = probs[i];
    int rank = 0;
    for (int u = 0; u < tokens && rank < cap; u++)
    {{
        float w = probs[((long)u * E) + e];
        if (w > v || (w == v && u < t))
        {{
            rank++;
        }}
    }}

    // A NaN score (a non-finite input row) outranks nobody and is never taken; its NaN gate
    // makes combine write the token's row as NaN.
    bool taken = rank < cap && v == v;
    experts[i] = taken ? e : -1;
    slots[i] = taken ? rank : -1;
    gates[i] = taken || v != v ? v : 0f;
}}

global::ILGPU.Group.Barrier();

// Tokens no expert took (a non-finite one is counted as such, not as dropped): each thread
// counts its strided share, thread 0 adds the shares.
int mine = 0;
for (int t = tid; t < tokens; t += g)
{{
    bool any = false;
    for (int e = 0; e < E; e++)
    {{
        long c = ((long)t * E) + e;
        any |= slots[c] >= 0 || gates[c] != gates[c];
    }}

    mine += any ? 0 : 1;
}}

unrouted[tid] = mine;
global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    int lost = 0;
    for (int i = 0; i < g; i++)
    {{
        lost += unrouted[i];
    }}

    // count + scan: every expert holds exactly C rows (C ≤ T), expert after expert.
    for (int e = 0; e < E; e++)
    {{
        meta[{kept} + e] = cap;
        meta[{offsets} + e] = e * cap;
    }}

    meta[{offsets} + E] = E * cap;
    meta[{dropped}] = lost;
}}
";
        return body;
    }
}
