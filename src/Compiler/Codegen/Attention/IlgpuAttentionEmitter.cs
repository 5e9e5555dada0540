namespace Wudao.Compiler.Codegen;

/// <summary>
/// Emits the ILGPU fused attention kernels for one head dimension: a struct implementing the
/// runtime's <c>IIlgpuAttentionKernel</c>, with D and the tile (from <see cref="IlgpuSchedule"/>)
/// as constants, so shared memory holds exactly one tile of rotated, scaled queries, keys and
/// values. One thread per query row: it stages its row, then for each key tile computes its
/// scores, the tile max, rescales its accumulator (its own output row, so no per-thread array of
/// D) and adds P·V. Causal groups stop after the tile holding their last row's diagonal; loop
/// bounds are uniform over the group, so every thread reaches every barrier. The append kernel
/// writes a call's new keys (rotated once) and values into the KV cache.
/// </summary>
internal static class IlgpuAttentionEmitter
{
    private const string View = "global::ILGPU.ArrayView<float>";
    private const string Ints = "global::ILGPU.ArrayView<int>";
    private const string X = "global::ILGPU.Algorithms.XMath";

    private static readonly AttentionConstants.Source FromArgs = new("args.Heads", "args.KvHeads", "args.Causal != 0", "args.Rope != 0", "args.Scale");

    /// <summary>The struct for <paramref name="dim"/>; with <paramref name="qkNormEps"/>, qk_norm is its prologue (q and raw k heads RMS-normalised as they load).</summary>
    /// <summary>Element <paramref name="i"/> of the source row as LoadRow reads it: normalised (when the row is) with qk_norm.</summary>
    private static string Value(string i, bool qk) => qk ? $"(norm ? source[at + {i}] * rms * gamma[{i}] : source[at + {i}])" : $"source[at + {i}]";

    public static void Emit(SourceWriter w, string name, int dim, string accessibility = "public", float? qkNormEps = null, AttentionConstants? constants = null)
    {
        var qk = qkNormEps != null;
        var tile = IlgpuSchedule.AttentionTile(dim);
        var bytes = ((3 * tile * dim) + (tile * tile)) * sizeof(float);
        if (bytes > IlgpuSchedule.SharedBytes)
        {
            throw new KernelAssemblyException($"ILGPU attention with head dim {dim} needs {bytes} bytes of shared memory even with {tile}-row tiles; a group may hold {IlgpuSchedule.SharedBytes}");
        }

        w.Line($"/// <summary>ILGPU fused attention for head dim {dim}, tiles of {tile} query rows and keys ({bytes} bytes of shared memory a group), emitted by Wudao.</summary>");
        w.Open($"{accessibility} readonly struct {name} : global::Wudao.Attention.IIlgpuAttentionKernel");
        w.Lines($@"private const int D = {dim};
private const int Half = D / 2;
private const int Tile = {tile};
private const int Fields = global::Wudao.Attention.IlgpuAttention.TileFields;{(qk ? $@"
private const float Eps = {CSharpNames.Float(qkNormEps!.Value)};" : "")}

public static int HeadDim => D;

public static bool QkNorm => {(qk ? "true" : "false")};

{AttentionConstants.Members(constants)}

public static int QueryTile => Tile;

public static void Forward({View} q, {View} keys, {View} values, {View} output, {View} lse, {Ints} tiles, {Ints} positions, {View} inverseFrequencies, {View} qNorm, {View} kNorm, global::Wudao.Attention.AttentionKernelArgs args)
{{
    var qs = global::ILGPU.SharedMemory.Allocate<float>(Tile * D);
    var ks = global::ILGPU.SharedMemory.Allocate<float>(Tile * D);
    var vs = global::ILGPU.SharedMemory.Allocate<float>(Tile * D);
    var ss = global::ILGPU.SharedMemory.Allocate<float>(Tile * Tile);
{AttentionConstants.Locals(constants, FromArgs, "    ", "heads", "kvHeads", "group", "causal", "rope", "scale")}
    int tid = global::ILGPU.Group.IdxX;
    int tile = global::ILGPU.Grid.IdxX / heads;
    int head = global::ILGPU.Grid.IdxX - (tile * heads);
    int kvHead = head / group;
    int seqStart = tiles[Fields * tile];
    int seqEnd = tiles[(Fields * tile) + 1];
    int t0 = tiles[(Fields * tile) + 2];
    int keyBase = tiles[(Fields * tile) + 3];
    int keyCount = tiles[(Fields * tile) + 4];
    int past = tiles[(Fields * tile) + 5];
    int t = t0 + tid;
    bool active = t < seqEnd;

    // Key index of this row's diagonal: its own key, after the past ones.
    int i = past + t - seqStart;
    int lastI = past + {X}.Min(t0 + Tile, seqEnd) - 1 - seqStart;
    int end = causal ? lastI + 1 : keyCount;
    int row = ((t * heads) + head) * D;
    if (active)
    {{
        LoadRow(q, row, qs, tid * D, rope, positions[t], inverseFrequencies, scale{(qk ? ", qNorm, true" : "")});
        for (int d = 0; d < D; d++)
        {{
            output[row + d] = 0f;
        }}
    }}

    float m = float.NegativeInfinity;
    float l = 0f;
    for (int k0 = 0; k0 < end; k0 += Tile)
    {{
        // The previous tile's keys are no longer read by anyone.
        global::ILGPU.Group.Barrier();
        int key = k0 + tid;
        if (key < keyCount)
        {{
            int keyRow = keyBase + key;
            int kvRow = ((keyRow * kvHeads) + kvHead) * D;
            bool rotate = rope && args.RawKeys != 0;
            LoadRow(keys, kvRow, ks, tid * D, rotate, rotate ? positions[keyRow] : 0, inverseFrequencies, 1f{(qk ? ", kNorm, args.RawKeys != 0" : "")});
            for (int d = 0; d < D; d++)
            {{
                vs[(tid * D) + d] = values[kvRow + d];
            }}
        }}

        global::ILGPU.Group.Barrier();
        int limit = {X}.Min(Tile, end - k0);
        if (causal)
        {{
            limit = {X}.Min(limit, i - k0 + 1);
        }}

        if (active && limit > 0)
        {{
            float tileMax = float.NegativeInfinity;
            for (int j = 0; j < limit; j++)
            {{
                float s = 0f;
                for (int d = 0; d < D; d++)
                {{
                    s += qs[(tid * D) + d] * ks[(j * D) + d];
                }}

                ss[(tid * Tile) + j] = s;
                tileMax = {X}.Max(tileMax, s);
            }}

            float next = {X}.Max(m, tileMax);
            float alpha = m == float.NegativeInfinity ? 0f : {X}.Exp(m - next);
            float sum = 0f;
            for (int j = 0; j < limit; j++)
            {{
                float p = {X}.Exp(ss[(tid * Tile) + j] - next);
                ss[(tid * Tile) + j] = p;
                sum += p;
            }}

            l = (l * alpha) + sum;
            m = next;
            for (int d = 0; d < D; d++)
            {{
                float acc = output[row + d] * alpha;
                for (int j = 0; j < limit; j++)
                {{
                    acc += ss[(tid * Tile) + j] * vs[(j * D) + d];
                }}

                output[row + d] = acc;
            }}
        }}
    }}

    if (active)
    {{
        float inverse = 1f / l;
        for (int d = 0; d < D; d++)
        {{
            output[row + d] *= inverse;
        }}

        lse[(t * heads) + head] = m + {X}.Log(l);
    }}
}}

public static void Append({View} k, {View} v, {View} cacheKeys, {View} cacheValues, {Ints} rows, {Ints} positions, {View} inverseFrequencies, {View} kNorm, global::Wudao.Attention.AttentionKernelArgs args)
{{
{AttentionConstants.Locals(constants, FromArgs, "    ", "kvHeads", "rope")}
    int index = global::ILGPU.Grid.GlobalIndex.X;
    if (index >= rows.IntLength * kvHeads)
    {{
        return;
    }}

    int t = index / kvHeads;
    int kvHead = index - (t * kvHeads);
    int from = ((t * kvHeads) + kvHead) * D;
    int to = ((rows[t] * kvHeads) + kvHead) * D;
    LoadRow(k, from, cacheKeys, to, rope, positions[t], inverseFrequencies, 1f{(qk ? ", kNorm, true" : "")});
    for (int d = 0; d < D; d++)
    {{
        cacheValues[to + d] = v[from + d];
    }}
}}

/// <summary>Copies a row (into shared memory, or into the KV cache){(qk ? ", RMS-normalised by γ if asked" : "")}, rotate-half RoPE at <paramref name=""position""/> if asked, times <paramref name=""scale""/>.</summary>
private static void LoadRow({View} source, int at, {View} destination, int to, bool rope, int position, {View} inverseFrequencies, float scale{(qk ? $", {View} gamma, bool norm" : "")})
{{{(qk ? @"
    float rms = 1f;
    if (norm)
    {
        float ss = 0f;
        for (int d = 0; d < D; d++)
        {
            ss += source[at + d] * source[at + d];
        }

        rms = 1f / " + X + @".Sqrt((ss / D) + Eps);
    }
" : "")}
    if (!rope)
    {{
        for (int d = 0; d < D; d++)
        {{
            destination[to + d] = {Value("d", qk)} * scale;
        }}

        return;
    }}

    for (int j = 0; j < Half; j++)
    {{
        float angle = position * inverseFrequencies[j];
        float c = {X}.Cos(angle);
        float s = {X}.Sin(angle);
        float a = {Value("j", qk)};
        float b = {Value("j + Half", qk)};
        destination[to + j] = ((a * c) - (b * s)) * scale;
        destination[to + j + Half] = ((b * c) + (a * s)) * scale;
    }}
}}");
        w.Close();
    }
}
