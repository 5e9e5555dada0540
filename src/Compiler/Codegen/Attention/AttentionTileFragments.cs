using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The three inner steps of a native attention block (query rows × one key tile), emitted for one
/// vector width with the head dimension D and the key tile as constants, four query rows at a
/// time: scores S = Q·Kᵀ (4 rows × 4 vectors of keys, one FMA per loaded key vector and row), the
/// online-softmax update of one row, and O = α·O + P·V, whose columns are split at emit time into
/// blocks of 4, 2 and 1 vectors (and a 256-bit vector for a last 8 columns), so any D that is a
/// multiple of 8 is whole vectors with no runtime tail.
/// </summary>
internal static class AttentionTileFragments
{
    private const string U = "global::System.Runtime.CompilerServices.Unsafe";

    /// <summary>The vector widths a kernel is emitted for: AVX-512 where the machine has it, 256-bit otherwise.</summary>
    private static readonly (string Vec, int Lanes)[] Widths = { ("Vector512", 16), ("Vector256", 8) };

    /// <summary>Scores{bits}, Softmax{bits} and Values{bits} for every width, then each column block they call, once.</summary>
    public static void Emit(SourceWriter w, int dim)
    {
        var blocks = new List<(int Vectors, int Lanes)>();
        foreach (var (vec, lanes) in Widths)
        {
            blocks.AddRange(Emit(w, vec, lanes, dim));
        }

        foreach (var (vectors, lanes) in blocks.Distinct())
        {
            ValuesBlock(w, "global::System.Runtime.Intrinsics.Vector" + (lanes * 32), lanes, vectors);
        }
    }

    private static IEnumerable<(int Vectors, int Lanes)> Emit(SourceWriter w, string vec, int lanes, int dim)
    {
        var bits = vec.Substring("Vector".Length);
        var v = "global::System.Runtime.Intrinsics." + vec;
        Scores(w, bits, v, lanes);
        Softmax(w, bits, v, lanes);
        var blocks = ColumnBlocks(dim, lanes);
        w.Line($"/// <summary>o[r] = α[r]·o[r] + Σ_(j &lt; keys) p[r, j]·v[j] for 4 rows, D columns as {string.Join(" + ", blocks.Select(b => $"{b.Vectors}×{b.Lanes}"))}.</summary>");
        w.Open($"private static void Values{bits}(ref float p, ref float v, int keys, ref float o, ref float alpha)");
        foreach (var (offset, vectors, blockLanes) in blocks)
        {
            w.Line($"Values{BlockName(blockLanes, vectors)}(ref p, ref {U}.Add(ref v, {offset}), keys, ref {U}.Add(ref o, {offset}), ref alpha);");
        }

        w.Close();
        w.Line();
        return blocks.Select(b => (b.Vectors, b.Lanes));
    }

    /// <summary>D columns as (offset, vectors, lanes) blocks: 4-vector blocks, then 2, then 1, then a half-width vector.</summary>
    public static List<(int Offset, int Vectors, int Lanes)> ColumnBlocks(int dim, int lanes)
    {
        var blocks = new List<(int, int, int)>();
        var c = 0;
        foreach (var vectors in new[] { 4, 2, 1 })
        {
            for (; c + (vectors * lanes) <= dim; c += vectors * lanes)
            {
                blocks.Add((c, vectors, lanes));
            }
        }

        if (c < dim)
        {
            // Only a 16-lane plan leaves a remainder, and D % 8 == 0 makes it exactly 8 columns.
            blocks.Add((c, 1, 8));
        }

        return blocks;
    }

    private static string BlockName(int lanes, int vectors) => $"{lanes * 32}x{vectors}";

    private static void Scores(SourceWriter w, string bits, string v, int lanes)
    {
        w.Line("/// <summary>s[r, j] = q[r]·k[j] for 4 query rows (stride D) and one key tile stored [D][Tile].</summary>");
        w.Open($"private static void Scores{bits}(ref float q, ref float kt, ref float s)");
        for (var r = 1; r < 4; r++)
        {
            w.Line($"ref float q{r} = ref {U}.Add(ref q, {r} * D);");
        }

        w.Open($"for (int c = 0; c < Tile; c += {4 * lanes})");
        for (var r = 0; r < 4; r++)
        {
            w.Line($"{v}<float> " + string.Join(", ", Enumerable.Range(0, 4).Select(j => $"a{r}{j} = {v}<float>.Zero")) + ";");
        }

        w.Line($"ref float k = ref {U}.Add(ref kt, c);");
        w.Open("for (int d = 0; d < D; d++)");
        w.Line($"ref float kr = ref {U}.Add(ref k, d * Tile);");
        for (var j = 0; j < 4; j++)
        {
            w.Line($"var k{j} = {v}.LoadUnsafe(ref kr, {j * lanes});");
        }

        for (var r = 0; r < 4; r++)
        {
            var q = r == 0 ? "q" : $"q{r}";
            w.Line($"var b{r} = {v}.Create({U}.Add(ref {q}, d));");
            for (var j = 0; j < 4; j++)
            {
                w.Line($"a{r}{j} = {v}.FusedMultiplyAdd(b{r}, k{j}, a{r}{j});");
            }
        }

        w.Close();
        for (var r = 0; r < 4; r++)
        {
            for (var j = 0; j < 4; j++)
            {
                w.Line($"{v}.StoreUnsafe(a{r}{j}, ref s, (nuint)(c + ({r} * Tile) + {j * lanes}));");
            }
        }

        w.Close();
        w.Close();
        w.Line();
    }

    private static void Softmax(SourceWriter w, string bits, string v, int lanes)
    {
        w.Lines($@"/// <summary>
/// Online-softmax update of one score row in place: keys at or past <paramref name=""limit""/> are
/// masked, the row becomes P = e^(s − m_new), m and l advance. Returns α = e^(m_old − m_new), the
/// factor the row's accumulator is scaled by (0 on the first tile, 1 when the row sees none of the tile).
/// </summary>
private static float Softmax{bits}(ref float s, int limit, ref float m, ref float l)
{{
    if (limit <= 0)
    {{
        for (int c = 0; c < Tile; c += {lanes})
        {{
            {v}.StoreUnsafe({v}<float>.Zero, ref s, (nuint)c);
        }}

        return 1f;
    }}

    var max = {v}.Create(float.NegativeInfinity);
    for (int c = 0; c < Tile; c += {lanes})
    {{
        var x = {v}.LoadUnsafe(ref s, (nuint)c);
        if (limit < Tile)
        {{
            var index = {v}.Create(c) + {v}<int>.Indices;
            x = {v}.ConditionalSelect({v}.AsSingle({v}.LessThan(index, {v}.Create(limit))), x, {v}.Create(float.NegativeInfinity));
            {v}.StoreUnsafe(x, ref s, (nuint)c);
        }}

        max = {v}.Max(max, x);
    }}

    float previous = m;
    float next = global::System.MathF.Max(previous, MaxAcross(max));
    var top = {v}.Create(next);
    var sum = {v}<float>.Zero;
    for (int c = 0; c < Tile; c += {lanes})
    {{
        var p = {v}.Exp({v}.LoadUnsafe(ref s, (nuint)c) - top);
        {v}.StoreUnsafe(p, ref s, (nuint)c);
        sum += p;
    }}

    float alpha = float.IsNegativeInfinity(previous) ? 0f : global::System.MathF.Exp(previous - next);
    l = (l * alpha) + {v}.Sum(sum);
    m = next;
    return alpha;
}}
");
    }

    /// <summary>4 rows × <paramref name="vectors"/> vectors of the accumulator, over the tile's keys.</summary>
    private static void ValuesBlock(SourceWriter w, string v, int lanes, int vectors)
    {
        w.Line($"[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
        w.Open($"private static void Values{BlockName(lanes, vectors)}(ref float p, ref float v, int keys, ref float o, ref float alpha)");
        for (var r = 0; r < 4; r++)
        {
            w.Line($"ref float o{r} = ref {U}.Add(ref o, {r} * D);");
            w.Line($"var g{r} = {v}.Create({U}.Add(ref alpha, {r}));");
            for (var j = 0; j < vectors; j++)
            {
                w.Line($"var a{r}{j} = g{r} * {v}.LoadUnsafe(ref o{r}, {j * lanes});");
            }
        }

        w.Open("for (int j = 0; j < keys; j++)");
        w.Line($"ref float vr = ref {U}.Add(ref v, j * D);");
        for (var c = 0; c < vectors; c++)
        {
            w.Line($"var v{c} = {v}.LoadUnsafe(ref vr, {c * lanes});");
        }

        for (var r = 0; r < 4; r++)
        {
            w.Line($"var b{r} = {v}.Create({U}.Add(ref p, ({r} * Tile) + j));");
            for (var c = 0; c < vectors; c++)
            {
                w.Line($"a{r}{c} = {v}.FusedMultiplyAdd(b{r}, v{c}, a{r}{c});");
            }
        }

        w.Close();
        for (var r = 0; r < 4; r++)
        {
            for (var c = 0; c < vectors; c++)
            {
                w.Line($"{v}.StoreUnsafe(a{r}{c}, ref o{r}, {c * lanes});");
            }
        }

        w.Close();
        w.Line();
    }
}
