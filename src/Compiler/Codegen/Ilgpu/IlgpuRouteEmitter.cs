using System.Linq;

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
            return IlgpuExpertChoiceRoute.Body(r) + (r.NonFinite is { } bad ? RouteOpFragments.IlgpuNonFinite(bad) : "");
        }

        return $@"var filled = global::ILGPU.SharedMemory.Allocate<int>(E);
var chunk = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);{string.Concat(r.RouteOps.Select(o => o.Op.IlgpuShared(o.Node)))}
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
        body += string.Concat(r.RouteOps.Select(o => o.Op.IlgpuPartial(o.Node)));

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
        return body + string.Concat(r.RouteOps.Select(o => o.Op.IlgpuFinish(o.Node)));
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
}
