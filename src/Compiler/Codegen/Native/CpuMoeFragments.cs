namespace Wudao.Compiler.Codegen;

/// <summary>
/// Members of the MoE layer's native kernel class besides the GEMM: the router GEMV over
/// <see cref="NativeSchedule.LogitRows"/> tokens, and tile counting.
/// </summary>
internal static class CpuMoeFragments
{
    public static readonly string Helpers = LogitsHelper() + @"
/// <summary>Tiles of TileRows rows, counted expert by expert from the scanned offsets.</summary>
public static int CountTiles(ref int meta, int offsets)
{
    int tiles = 0;
    for (int e = 0; e < Kernels.E; e++)
    {
        int count = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, offsets + e + 1) - global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, offsets + e);
        tiles += (count + TileRows - 1) / TileRows;
    }

    return tiles;
}
";

    /// <summary>
    /// logits[r, e] = Σ_d x[r, d]·wg[d, e] for up to <see cref="NativeSchedule.LogitRows"/> rows at once, 16 then 8
    /// experts per vector, then one at a time; each sum runs in d order. Rows past <c>rows</c>
    /// repeat the last one (valid memory) and are not used.
    /// </summary>
    private static string LogitsHelper()
    {
        // The router's width is ER: routed experts only (DeepSeek's shared experts take no logit).
        var sb = new System.Text.StringBuilder();
        sb.Append("private static void Logits(ref float x, int rows, ref float wg, global::System.Span<float> logits)\n{\n");
        for (var r = 0; r < NativeSchedule.LogitRows; r++)
        {
            sb.Append($"    ref float x{r} = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, global::System.Math.Min({r}, rows - 1) * Kernels.D);\n");
        }

        sb.Append("    int e0 = 0;\n");
        foreach (var (vec, lanes, wideOnly) in new[] { ("Vector512", 16, true), ("Vector256", 8, false) })
        {
            var v = "global::System.Runtime.Intrinsics." + vec;
            sb.Append(wideOnly ? "    if (Wide)\n    {\n" : "    {\n");
            sb.Append($"        for (; e0 + {lanes} <= Kernels.ER; e0 += {lanes})\n        {{\n");
            for (var r = 0; r < NativeSchedule.LogitRows; r++)
            {
                sb.Append($"            var a{r} = {v}<float>.Zero;\n");
            }

            sb.Append("            for (int d = 0; d < Kernels.D; d++)\n            {\n");
            sb.Append($"                var w = {v}.LoadUnsafe(ref wg, (nuint)((d * Kernels.ER) + e0));\n");
            for (var r = 0; r < NativeSchedule.LogitRows; r++)
            {
                sb.Append($"                a{r} = {v}.FusedMultiplyAdd({v}.Create(global::System.Runtime.CompilerServices.Unsafe.Add(ref x{r}, d)), w, a{r});\n");
            }

            sb.Append("            }\n\n");
            for (var r = 0; r < NativeSchedule.LogitRows; r++)
            {
                sb.Append($"            if (rows > {r})\n            {{\n                {v}.CopyTo(a{r}, logits.Slice(({r} * Kernels.ER) + e0));\n            }}\n");
            }

            sb.Append("        }\n    }\n\n");
        }

        sb.Append(@"    for (; e0 < Kernels.ER; e0++)
    {
        for (int r = 0; r < rows; r++)
        {
            float acc = 0f;
            for (int d = 0; d < Kernels.D; d++)
            {
                acc = global::System.MathF.FusedMultiplyAdd(global::System.Runtime.CompilerServices.Unsafe.Add(ref x, (r * Kernels.D) + d), global::System.Runtime.CompilerServices.Unsafe.Add(ref wg, (d * Kernels.ER) + e0), acc);
            }

            logits[(r * Kernels.ER) + e0] = acc;
        }
    }
}
");
        return sb.ToString();
    }
}
