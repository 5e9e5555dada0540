namespace Wudao.Compiler.Codegen;

/// <summary>The ILGPU route under expert choice: experts pick their tokens, so no capacity scan and no partials.</summary>
internal static class IlgpuExpertChoiceRoute
{
    /// <summary>
    /// Expert choice (Zhou 2022), one group: each (token, expert) pair's rank in the expert's
    /// column (score descending, ties to the lower token) decides whether the expert takes it.
    /// </summary>
    public static string Body(RouteKernel r)
    {
        var (kept, offsets, dropped) = (r.Kept, r.Offsets, r.Dropped);
        // The non-finite count is added to by atomics after the barrier below: it starts at 0.
        var clear = r.NonFinite != null ? $"\nif (tid == 0)\n{{\n    meta[{r.NonFinite}] = 0;\n}}\n" : "";
        var body = $@"var unrouted = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;
int tokens = args.Tokens;
int cap = args.Capacity;{clear}

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
