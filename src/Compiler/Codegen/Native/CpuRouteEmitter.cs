using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native route, on one thread (it is an ordered pass): token choice's partials and slot
/// phases (capacity, count, scan and the losses, from every rank's partials), or expert choice.
/// Each produces exactly what the ILGPU route produces.
/// </summary>
internal static class CpuRouteEmitter
{
    public static string Body(RouteKernel k)
    {
        if (k.ExpertChoice)
        {
            return ExpertChoice(k) + (k.NonFinite is { } bad ? RouteOpFragments.NativeNonFinite("Kernels." + bad) : "");
        }

        return $@"int tokens = args.Tokens;
int cap = args.Capacity;
ref int part = ref {At("meta", "Kernels.PartialsAt")};
{RouteKernel.Phased(Partials(k), Slots(k))}";
    }

    /// <summary>One rank's partials: its tokens, its choices per (column, expert), non-finite tokens and the loss sums, in token order.</summary>
    private static string Partials(RouteKernel k)
    {
        var body = $@"// route partials: this rank's share of what capacity and the losses need.
for (int i = 0; i < Kernels.PartialsLength; i++)
{{
    {At("part", "i")} = 0;
}}

{At("part", "Kernels." + RouteKernel.PartialTokens)} = tokens;
for (int c = 0; c < tokens * Kernels.K; c++)
{{
    int mine = {At("experts", "c")};
    if (mine >= 0)
    {{
        {At("part", $"Kernels.{RouteKernel.PartialCounts} + ((c % Kernels.K) * Kernels.E) + mine")}++;
    }}
}}
";
        return body + string.Concat(k.RouteOps.Select(o => o.Op.NativePartial(o.Node)));
    }

    /// <summary>
    /// The slots from every rank's partials: a choice's global position counts every rank's earlier
    /// columns, earlier ranks' same column, then this rank's earlier tokens; a kept choice's slot is
    /// its place among this rank's kept rows of that expert. On one rank the two agree.
    /// </summary>
    private static string Slots(RouteKernel k)
    {
        var routed = k.Routed;
        var (exempt, limited) = routed == "E" ? ("", "") : ($" || mine >= {routed}", $" && e < {routed}");
        var unlimited = routed == "E" ? "cap <= 0" : $"cap <= 0 || e >= {routed}";
        var body = $@"// route slots: capacity by global position, slots in this rank's send layout.
int ranks = args.Ranks;
int total = 0;
for (int r = 0; r < ranks; r++)
{{
    total += {Gathered("r", "Kernels." + RouteKernel.PartialTokens)};
}}

global::System.Span<int> demand = stackalloc int[Kernels.E];
global::System.Span<int> sent = stackalloc int[Kernels.E];
global::System.Span<int> first = stackalloc int[Kernels.E];
global::System.Span<int> next = stackalloc int[Kernels.E];
demand.Clear();
sent.Clear();
for (int j = 0; j < Kernels.K; j++)
{{
    for (int e = 0; e < Kernels.E; e++)
    {{
        int before = 0;
        int all = 0;
        for (int r = 0; r < ranks; r++)
        {{
            int c = {Gathered("r", $"Kernels.{RouteKernel.PartialCounts} + (j * Kernels.E) + e")};
            before += r < args.Rank ? c : 0;
            all += c;
        }}

        first[e] = demand[e] + before;
        next[e] = first[e];
        demand[e] += all;
    }}

    for (int t = 0; t < tokens; t++)
    {{
        int c = (t * Kernels.K) + j;
        int mine = {At("experts", "c")};
        int slot = -1;
        if (mine >= 0)
        {{
            int pos = next[mine]++;
            if (cap <= 0 || pos < cap{exempt})
            {{
                slot = sent[mine] + (pos - first[mine]);
            }}
        }}

        {At("slots", "c")} = slot;
    }}

    for (int e = 0; e < Kernels.E; e++)
    {{
        int n = next[e] - first[e];
        sent[e] += {unlimited} ? n : global::System.Math.Clamp(cap - first[e], 0, n);
    }}
}}

// count + scan: kept rows and drops of the global batch; offsets of this rank's send layout.
int off = 0;
int lost = 0;
for (int e = 0; e < Kernels.E; e++)
{{
    int f = demand[e];
    int keep = cap > 0 && f > cap{limited} ? cap : f;
    lost += f - keep;
    {At("meta", $"Kernels.{k.Kept} + e")} = keep;
    {At("meta", $"Kernels.{k.Offsets} + e")} = off;
    off += sent[e];
}}

{At("meta", $"Kernels.{k.Offsets} + Kernels.E")} = off;
{At("meta", $"Kernels.{k.Dropped}")} = lost;
";
        return body + string.Concat(k.RouteOps.Select(o => o.Op.NativeFinish(o.Node)));
    }

    /// <summary>The route's members besides its body: the rank-order sum of a float partial.</summary>
    public static string Members(RouteKernel k) => k.ExpertChoice ? "" : @"
/// <summary>A float partial (its bits) added over the ranks in rank order: its own value on one rank.</summary>
private static float RankSum(ref int gathered, int ranks, int field)
{
    float s = 0f;
    for (int r = 0; r < ranks; r++)
    {
        s += global::System.BitConverter.Int32BitsToSingle(global::System.Runtime.CompilerServices.Unsafe.Add(ref gathered, (r * Kernels.PartialsLength) + field));
    }

    return s;
}
";

    private static string At(string view, string index) => RouteOpFragments.At(view, index);

    private static string Gathered(string rank, string field) => RouteOpFragments.Gathered(rank, field);

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
}
