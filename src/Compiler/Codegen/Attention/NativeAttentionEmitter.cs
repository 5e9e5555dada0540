namespace Wudao.Compiler.Codegen;

/// <summary>
/// Emits a native fused attention kernel for one head dimension: a struct implementing the
/// runtime's <c>INativeAttentionKernel</c> with D, the key tile and the vector widths as
/// constants. kv_pack rotates each new key once and stores it transposed into its key tile;
/// attention loads a query tile rotated and scaled, streams the key tiles through the online
/// softmax (only diagonal tiles are masked) and writes out and the log-sum-exp. The runtime plans
/// the items and owns the memory; the arithmetic is all here.
/// </summary>
internal static class NativeAttentionEmitter
{
    private const string U = "global::System.Runtime.CompilerServices.Unsafe";
    private const string MM = "global::System.Runtime.InteropServices.MemoryMarshal";
    private const string V256 = "global::System.Runtime.Intrinsics.Vector256";

    /// <summary>
    /// The struct <paramref name="name"/> for head dimension <paramref name="dim"/>; a dim that is not
    /// whole 256-bit vectors cannot be assembled. With <paramref name="qkNormEps"/>, qk_norm is the
    /// kernel's prologue: each query and key head is RMS-normalised (its γ, that ε) as it loads, before RoPE.
    /// </summary>
    public static void Emit(SourceWriter w, string name, int dim, string accessibility = "public", float? qkNormEps = null, AttentionConstants? constants = null)
    {
        if (dim < 8 || dim % 8 != 0)
        {
            throw new KernelAssemblyException($"native attention needs a head dim that is a positive multiple of 8 (whole 256-bit vectors); {dim} is not");
        }

        w.Line($"/// <summary>Native fused attention for head dim {dim}, emitted by Wudao (FlashAttention's algorithm; see <see cref=\"global::Wudao.Attention.NativeAttention\"/>).</summary>");
        w.Open($"{accessibility} readonly struct {name} : global::Wudao.Attention.INativeAttentionKernel");
        w.Line($"private const int D = {dim};");
        w.Line("private const int Half = D / 2;");
        w.Line("private const int Tile = global::Wudao.Attention.NativeAttention.KeyTile;");
        w.Line("/// <summary>AVX-512 micro-kernels where the machine has them, 256-bit ones otherwise; the JIT folds the test.</summary>");
        w.Line("private static readonly bool Wide = global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;");
        w.Line();
        w.Line("public static int HeadDim => D;");
        w.Line();
        w.Line($"public static bool QkNorm => {(qkNormEps != null ? "true" : "false")};");
        w.Line();
        w.Lines(AttentionConstants.Members(constants));
        w.Line();
        if (qkNormEps is { } eps)
        {
            w.Line($"private const float Eps = {CSharpNames.Float(eps)};");
            w.Line();
        }

        w.Line("/// <summary>Q tile, scores and accumulator per row, then m, l and α per row, then cos and sin.</summary>");
        w.Line("public static int WorkFloats(int rows) => (rows * ((2 * D) + Tile + 3)) + D;");
        w.Line();
        var qk = qkNormEps != null;
        Pack(w, qk, constants);
        Attend(w, qk, constants);
        Helpers(w);
        if (qk)
        {
            w.Lines(NormHelper);
        }

        AttentionTileFragments.Emit(w, dim);

        w.Close();
    }

    private static readonly AttentionConstants.Source FromShape = new("shape.Heads", "shape.KvHeads", "shape.Causal", "shape.Rope", "shape.Scale");

    private static void Pack(SourceWriter w, bool qk, AttentionConstants? c) => w.Lines($@"public static void Pack(in global::Wudao.Attention.AttentionPackItem item)
{{
    var shape = item.Shape;
{AttentionConstants.Locals(c, FromShape, "    ", "kvHeads", "rope")}
    global::System.Span<float> cos = stackalloc float[Half];
    global::System.Span<float> sin = stackalloc float[Half];
    global::System.Span<float> rotated = stackalloc float[D];{(qk ? @"
    global::System.Span<float> normed = stackalloc float[D];" : "")}
    for (int i = 0; i < item.Count; i++)
    {{
        int token = item.FirstToken + i;
        int at = item.FirstPosition + i;
        if (rope)
        {{
            Angles(InverseFrequencies(shape), item.Positions.IsEmpty ? at : item.Positions[token], cos, sin);
        }}

        for (int g = 0; g < kvHeads; g++)
        {{
            int row = ((token * kvHeads) + g) * D;
            scoped global::System.ReadOnlySpan<float> key = item.K.Slice(row, D);{(qk ? @"
            Norm(key, normed, item.KNorm);
            key = normed;" : "")}
            if (rope)
            {{
                Rotate(key, rotated, cos, sin, 1f);
                key = rotated;
            }}

            // Keys transposed into their tile ([D][Tile]), so the score kernel loads contiguous keys per dimension.
            int kAt = item.KeyBase + global::Wudao.Attention.KvTiles.Key(item.Tiles, D, g, at);
            for (int d = 0; d < D; d++)
            {{
                item.Keys[kAt + (d * Tile)] = key[d];
            }}

            item.V.Slice(row, D).CopyTo(item.Values.Slice(item.KeyBase + global::Wudao.Attention.KvTiles.Value(item.Tiles, D, g, at), D));
        }}
    }}
}}
");

    private static void Attend(SourceWriter w, bool qk, AttentionConstants? c) => w.Lines($@"public static void Attend(in global::Wudao.Attention.AttentionTileItem item)
{{
    var shape = item.Shape;
{AttentionConstants.Locals(c, FromShape, "    ", "heads", "group", "causal", "rope", "scale")}{(qk ? @"
    global::System.Span<float> normed = stackalloc float[D];" : "")}
    int rows = item.Tokens * group;
    int rows4 = (rows + 3) & ~3;
    int last = item.FirstPosition + item.Tokens - 1;
    var pos = item.RowPositions;
    var qs = item.Work.Slice(0, rows4 * D);
    var s = item.Work.Slice(rows4 * D, rows4 * Tile);
    var o = item.Work.Slice(rows4 * (D + Tile), rows4 * D);
    var m = item.Work.Slice(rows4 * ((2 * D) + Tile), rows4);
    var l = item.Work.Slice((rows4 * ((2 * D) + Tile)) + rows4, rows4);
    var alpha = item.Work.Slice((rows4 * ((2 * D) + Tile)) + (2 * rows4), rows4);
    var cos = item.Work.Slice(rows4 * ((2 * D) + Tile + 3), Half);
    var sin = item.Work.Slice((rows4 * ((2 * D) + Tile + 3)) + Half, Half);

    // Q rows (token-major, then the group's heads), rotated at their positions and scaled as they load.
    for (int tt = 0; tt < item.Tokens; tt++)
    {{
        int token = item.FirstToken + tt;
        int at = item.FirstPosition + tt;
        if (rope)
        {{
            Angles(InverseFrequencies(shape), item.Positions.IsEmpty ? at : item.Positions[token], cos, sin);
        }}

        for (int gh = 0; gh < group; gh++)
        {{
            int r = (tt * group) + gh;
            scoped global::System.ReadOnlySpan<float> src = item.Q.Slice(((token * heads) + (item.KvHead * group) + gh) * D, D);{(qk ? @"
            Norm(src, normed, item.QNorm);
            src = normed;" : "")}
            if (rope)
            {{
                Rotate(src, qs.Slice(r * D, D), cos, sin, scale);
            }}
            else
            {{
                Scale(src, qs.Slice(r * D, D), scale);
            }}

            pos[r] = at;
        }}
    }}

    // Padding rows (to the micro-kernels' 4): zero queries, never written out.
    qs.Slice(rows * D).Clear();
    for (int r = rows; r < rows4; r++)
    {{
        pos[r] = last;
    }}

    o.Clear();
    m.Fill(float.NegativeInfinity);
    l.Clear();
    ref float kBase = ref {MM}.GetReference(item.Keys);
    ref float vBase = ref {MM}.GetReference(item.Values);
    ref float qRef = ref {MM}.GetReference(qs);
    ref float sRef = ref {MM}.GetReference(s);
    ref float oRef = ref {MM}.GetReference(o);
    ref float aRef = ref {MM}.GetReference(alpha);
    for (int k0 = 0; k0 < item.KeyEnd; k0 += Tile)
    {{
        int valid = global::System.Math.Min(Tile, item.KeyEnd - k0);
        ref float kt = ref {U}.Add(ref kBase, k0 * D);
        for (int r = 0; r < rows4; r += 4)
        {{
            if (Wide)
            {{
                Scores512(ref {U}.Add(ref qRef, r * D), ref kt, ref {U}.Add(ref sRef, r * Tile));
            }}
            else
            {{
                Scores256(ref {U}.Add(ref qRef, r * D), ref kt, ref {U}.Add(ref sRef, r * Tile));
            }}
        }}

        // Only a diagonal tile masks: a row sees keys up to its own position.
        for (int r = 0; r < rows4; r++)
        {{
            int limit = causal ? global::System.Math.Min(valid, pos[r] - k0 + 1) : valid;
            alpha[r] = Wide
                ? Softmax512(ref {U}.Add(ref sRef, r * Tile), limit, ref m[r], ref l[r])
                : Softmax256(ref {U}.Add(ref sRef, r * Tile), limit, ref m[r], ref l[r]);
        }}

        for (int r = 0; r < rows4; r += 4)
        {{
            if (Wide)
            {{
                Values512(ref {U}.Add(ref sRef, r * Tile), ref {U}.Add(ref vBase, k0 * D), valid, ref {U}.Add(ref oRef, r * D), ref {U}.Add(ref aRef, r));
            }}
            else
            {{
                Values256(ref {U}.Add(ref sRef, r * Tile), ref {U}.Add(ref vBase, k0 * D), valid, ref {U}.Add(ref oRef, r * D), ref {U}.Add(ref aRef, r));
            }}
        }}
    }}

    for (int r = 0; r < rows; r++)
    {{
        int token = item.FirstToken + (r / group);
        int row = (token * heads) + (item.KvHead * group) + (r % group);
        Scale(o.Slice(r * D, D), item.Output.Slice(row * D, D), 1f / l[r]);
        item.Lse[row] = m[r] + global::System.MathF.Log(l[r]);
    }}
}}
");

    private static void Helpers(SourceWriter w) => w.Lines($@"/// <summary>cos and sin of position · invFreq[i], the angle in fp32 as HF Llama computes it.</summary>
private static void Angles(global::System.ReadOnlySpan<float> inverseFrequencies, int position, global::System.Span<float> cos, global::System.Span<float> sin)
{{
    for (int i = 0; i < Half; i++)
    {{
        (sin[i], cos[i]) = global::System.MathF.SinCos(position * inverseFrequencies[i]);
    }}
}}

/// <summary>destination = scale · rotate-half(source): pairs (i, i + D/2) turn by the angles.</summary>
private static void Rotate(global::System.ReadOnlySpan<float> source, global::System.Span<float> destination, global::System.ReadOnlySpan<float> cos, global::System.ReadOnlySpan<float> sin, float scale)
{{
    for (int i = 0; i < Half; i++)
    {{
        float a = source[i];
        float b = source[i + Half];
        destination[i] = ((a * cos[i]) - (b * sin[i])) * scale;
        destination[i + Half] = ((b * cos[i]) + (a * sin[i])) * scale;
    }}
}}

private static void Scale(global::System.ReadOnlySpan<float> source, global::System.Span<float> destination, float factor)
{{
    ref float src = ref {MM}.GetReference(source);
    ref float dst = ref {MM}.GetReference(destination);
    var f = {V256}.Create(factor);
    for (int d = 0; d < D; d += 8)
    {{
        {V256}.StoreUnsafe(f * {V256}.LoadUnsafe(ref src, (nuint)d), ref dst, (nuint)d);
    }}
}}

private static float MaxAcross(global::System.Runtime.Intrinsics.Vector512<float> value) => MaxAcross({V256}.Max(global::System.Runtime.Intrinsics.Vector512.GetLower(value), global::System.Runtime.Intrinsics.Vector512.GetUpper(value)));

private static float MaxAcross(global::System.Runtime.Intrinsics.Vector256<float> value)
{{
    var half = global::System.Runtime.Intrinsics.Vector128.Max({V256}.GetLower(value), {V256}.GetUpper(value));
    var pair = global::System.Runtime.Intrinsics.Vector128.Max(half, global::System.Runtime.Intrinsics.Vector128.Shuffle(half, global::System.Runtime.Intrinsics.Vector128.Create(2, 3, 0, 1)));
    return global::System.MathF.Max(global::System.Runtime.Intrinsics.Vector128.GetElement(pair, 0), global::System.Runtime.Intrinsics.Vector128.GetElement(pair, 1));
}}
");

    /// <summary>qk_norm of one head: y = γ·x / sqrt(mean(x²) + ε), in the order the unfused op computed it.</summary>
    private const string NormHelper = @"
private static void Norm(global::System.ReadOnlySpan<float> x, global::System.Span<float> y, global::System.ReadOnlySpan<float> gamma)
{
    float ss = 0f;
    for (int d = 0; d < D; d++)
    {
        ss += x[d] * x[d];
    }

    float scale = 1f / global::System.MathF.Sqrt((ss / D) + Eps);
    for (int d = 0; d < D; d++)
    {
        y[d] = x[d] * scale * gamma[d];
    }
}";
}
