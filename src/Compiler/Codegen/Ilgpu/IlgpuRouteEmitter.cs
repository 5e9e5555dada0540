namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ILGPU route, one group. Token choice runs in two phases (<see cref="RouteKernel.Phased"/>):
/// this rank's partials, then from every rank's partials the capacity, slots, count, scan and
/// losses; one rank runs both in one launch, expert-parallel ranks exchange the partials between
/// them. Under expert choice, each expert's column is ranked instead.
/// </summary>
internal static class IlgpuRouteEmitter
{
    public static string Body(RouteKernel r)
    {
        if (r.ExpertChoice)
        {
            return IlgpuExpertChoiceRoute.Body(r) + NonFinite(r, r.NonFinite ?? "");
        }

        var load = r.NoisyLoss != null ? "\nvar load = global::ILGPU.SharedMemory.Allocate<float>(E);" : "";
        return $@"var filled = global::ILGPU.SharedMemory.Allocate<int>(E);
var chunk = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
var partial = global::ILGPU.SharedMemory.Allocate<float>(E);{load}
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;
int tokens = args.Tokens;
int cap = args.Capacity;
int ranks = args.Ranks;
{RouteKernel.Phased(Partials(r), Slots(r))}";
    }

    /// <summary>One rank's partials, written into the meta block: counts by atomics (exact), loss sums per expert in token order.</summary>
    private static string Partials(RouteKernel r)
    {
        var body = $@"// route partials: this rank's share of what capacity and the losses need.
for (int i = tid; i < PartialsLength; i += g)
{{
    meta[PartialsAt + i] = 0;
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    meta[PartialsAt + {RouteKernel.PartialTokens}] = tokens;
}}

for (long c = tid; c < (long)tokens * K; c += g)
{{
    int mine = experts[c];
    if (mine >= 0)
    {{
        global::ILGPU.Atomic.Add(ref meta[PartialsAt + {RouteKernel.PartialCounts} + ((int)(c % K) * E) + mine], 1);
    }}
}}
";
        if (r.NonFinite != null)
        {
            body += NonFinite(r, $"PartialsAt + {RouteKernel.PartialNonFinite}");
        }

        if (r.Aux != null)
        {
            body += $@"
// aux_loss's probability sums, per expert in token order.
for (int e = tid; e < E; e += g)
{{
    float p = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        p += probs[(long)t * E + e];
    }}

    meta[PartialsAt + {RouteKernel.PartialProbs} + e] = (int)global::ILGPU.Interop.FloatAsInt(p);
}}
";
        }

        if (r.ZLoss != null)
        {
            body += $@"
// z_loss's sum of squared logsumexps, in token order.
if (tid == 0)
{{
    float zs = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        zs += lse[t] * lse[t];
    }}

    meta[PartialsAt + {RouteKernel.PartialLse}] = (int)global::ILGPU.Interop.FloatAsInt(zs);
}}
";
        }

        if (r.NoisyLoss != null)
        {
            body += $@"
// noisy_loss: importance = Σ gates, load = Σ P(x, e), per expert in token order.
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

    meta[PartialsAt + {RouteKernel.PartialImportance} + e] = (int)global::ILGPU.Interop.FloatAsInt(imp);
    meta[PartialsAt + {RouteKernel.PartialLoad} + e] = (int)global::ILGPU.Interop.FloatAsInt(ld);
}}
";
        }

        // The slot phase may read the partials straight after (one rank): every write lands first.
        return body + "\nglobal::ILGPU.Group.Barrier();\n";
    }

    /// <summary>
    /// The slots from every rank's partials. Until the final scan, the meta block's kept and
    /// offsets fields hold each expert's global demand so far (at a column's start: the first
    /// global position of this rank's choices) and this rank's kept rows so far.
    /// </summary>
    private static string Slots(RouteKernel r)
    {
        // Shared experts (index ≥ routed) take every token: capacity limits the routed ones only.
        var routed = r.Routed;
        var (exempt, limited) = routed == "E" ? ("", "") : ($" || mine >= {routed}", $" && e < {routed}");
        var unlimited = routed == "E" ? "cap <= 0" : $"cap <= 0 || e >= {routed}";
        var (kept, offsets, dropped) = (r.Kept, r.Offsets, r.Dropped);
        var body = $@"// route slots: capacity by global position (every rank's earlier columns, earlier ranks'
// same column, then this rank's earlier tokens), slots in this rank's send layout.
int total = 0;
for (int q = 0; q < ranks; q++)
{{
    total += gathered[(q * PartialsLength) + {RouteKernel.PartialTokens}];
}}

for (int e = tid; e < E; e += g)
{{
    meta[{kept} + e] = 0;
    meta[{offsets} + e] = 0;
}}

for (int j = 0; j < K; j++)
{{
    for (int e = tid; e < E; e += g)
    {{
        int before = 0;
        for (int q = 0; q < args.Rank; q++)
        {{
            before += gathered[(q * PartialsLength) + {RouteKernel.PartialCounts} + (j * E) + e];
        }}

        meta[{kept} + e] += before;
        filled[e] = 0;
    }}

    global::ILGPU.Group.Barrier();
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
                int rank = filled[mine];
                for (int i = 0; i < tid; i++)
                {{
                    if (chunk[i] == mine)
                    {{
                        rank++;
                    }}
                }}

                int pos = meta[{kept} + mine] + rank;
                if (cap <= 0 || pos < cap{exempt})
                {{
                    slot = meta[{offsets} + mine] + rank;
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

    for (int e = tid; e < E; e += g)
    {{
        int first = meta[{kept} + e];
        int n = filled[e];
        int room = cap - first;
        meta[{offsets} + e] += {unlimited} ? n : room < 0 ? 0 : room < n ? room : n;
        int after = 0;
        for (int q = args.Rank; q < ranks; q++)
        {{
            after += gathered[(q * PartialsLength) + {RouteKernel.PartialCounts} + (j * E) + e];
        }}

        meta[{kept} + e] = first + after;
    }}

    global::ILGPU.Group.Barrier();
}}

// count + scan: kept rows and drops of the global batch; offsets of this rank's send layout.
if (tid == 0)
{{
    int off = 0;
    int lost = 0;
    for (int e = 0; e < E; e++)
    {{
        int f = meta[{kept} + e];
        int keep = cap > 0 && f > cap{limited} ? cap : f;
        lost += f - keep;
        meta[{kept} + e] = keep;
        int mineKept = meta[{offsets} + e];
        meta[{offsets} + e] = off;
        off += mineKept;
    }}

    meta[{offsets} + E] = off;
    meta[{dropped}] = lost;
}}
";
        if (r.NonFinite is { } bad)
        {
            body += $@"
if (tid == 0)
{{
    int bad = 0;
    for (int q = 0; q < ranks; q++)
    {{
        bad += gathered[(q * PartialsLength) + {RouteKernel.PartialNonFinite}];
    }}

    meta[{bad}] = bad;
}}
";
        }

        if (r.Aux is { } aux)
        {
            body += $@"
// aux_loss: alpha * E * sum_i f_i * P_i over the global batch; f_i = share of tokens whose first
// choice is i, P_i = mean router probability of i.
for (int e = tid; e < E; e += g)
{{
    int f = 0;
    for (int q = 0; q < ranks; q++)
    {{
        f += gathered[(q * PartialsLength) + {RouteKernel.PartialCounts} + e];
    }}

    float p = RankSum(gathered, ranks, {RouteKernel.PartialProbs} + e);
    partial[e] = total > 0 ? (f / (float)total) * (p / total) : 0f;
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
// z_loss: weight · mean over the global batch of logsumexp².
if (tid == 0)
{{
    float zs = RankSum(gathered, ranks, {RouteKernel.PartialLse});
    meta[{z.Meta}] = (int)global::ILGPU.Interop.FloatAsInt(total > 0 ? {z.Weight} * (zs / total) : 0f);
}}
";
        }

        if (r.NoisyLoss is { } noisy)
        {
            body += NoisyLoss(noisy);
        }

        return body;
    }

    /// <summary>The route's members besides its body: the rank-order sum of a float partial.</summary>
    public static string Members(RouteKernel r) => r.ExpertChoice ? "" : @"
/// <summary>A float partial (its bits) added over the ranks in rank order: its own value on one rank.</summary>
private static float RankSum(global::ILGPU.ArrayView<int> gathered, int ranks, int field)
{
    float s = 0f;
    for (int q = 0; q < ranks; q++)
    {
        s += global::ILGPU.Interop.IntAsFloat((uint)gathered[(q * PartialsLength) + field]);
    }

    return s;
}
";

    /// <summary>
    /// nonfinite: tokens with a NaN or infinite value, each thread its strided share, added by an
    /// exact integer atomic to <paramref name="target"/>, which must be 0 and settled by a barrier.
    /// </summary>
    private static string NonFinite(RouteKernel r, string target) => r.NonFinite is null ? "" : $@"
// nonfinite: tokens with a NaN or infinite value (v·0 is 0 for finite v, NaN otherwise).
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

global::ILGPU.Atomic.Add(ref meta[{target}], mineBad);
";

    /// <summary>noisy_loss: the weighted CV² of the global importance and load (unbiased variance over E − 1, as torch's var).</summary>
    private static string NoisyLoss((string Importance, string Load, string ImportanceWeight, string LoadWeight) noisy) => $@"
// importance reuses the aux-loss scratch (noisy top-k has no aux loss): shared memory stays at 12 bytes per expert.
var importance = partial;
for (int e = tid; e < E; e += g)
{{
    importance[e] = RankSum(gathered, ranks, {RouteKernel.PartialImportance} + e);
    load[e] = RankSum(gathered, ranks, {RouteKernel.PartialLoad} + e);
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    meta[{noisy.Importance}] = (int)global::ILGPU.Interop.FloatAsInt({noisy.ImportanceWeight} * CvSquared(importance));
    meta[{noisy.Load}] = (int)global::ILGPU.Interop.FloatAsInt({noisy.LoadWeight} * CvSquared(load));
}}
";
}
