namespace Wudao.Compiler.Codegen;

/// <summary>
/// Members of the native kernel class that every kernel may call: the router GEMV over
/// <see cref="NativeSchedule.LogitRows"/> tokens, the vectorised exponent, tile counting, weight packing, and the
/// packed, register-blocked GEMM with its Vector512/Vector256 micro-kernels.
/// </summary>
internal static class CpuGemmFragments
{
    public static readonly string Helpers = LogitsHelper() + @"
/// <summary>v[e] = exp(v[e] − max) and returns Σ v, 16 or 8 lanes at a time where the vector units allow.</summary>
private static float Exponentiate(global::System.Span<float> v, float max)
{
    int e = 0;
    float sum = 0f;
    if (Wide)
    {
        var m = global::System.Runtime.Intrinsics.Vector512.Create(max);
        for (; e + 16 <= v.Length; e += 16)
        {
            var x = global::System.Runtime.Intrinsics.Vector512.Exp(global::System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(v), (nuint)e) - m);
            global::System.Runtime.Intrinsics.Vector512.CopyTo(x, v.Slice(e));
            sum += global::System.Runtime.Intrinsics.Vector512.Sum(x);
        }
    }

    var m8 = global::System.Runtime.Intrinsics.Vector256.Create(max);
    for (; e + 8 <= v.Length; e += 8)
    {
        var x = global::System.Runtime.Intrinsics.Vector256.Exp(global::System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(v), (nuint)e) - m8);
        global::System.Runtime.Intrinsics.Vector256.CopyTo(x, v.Slice(e));
        sum += global::System.Runtime.Intrinsics.Vector256.Sum(x);
    }

    for (; e < v.Length; e++)
    {
        v[e] = global::System.MathF.Exp(v[e] - max);
        sum += v[e];
    }

    return sum;
}

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

/// <summary>Floats of one expert's packed weight: ceil(n / NR) panels of k rows by NR columns.</summary>
public static int PanelStride(int k, int n) => ((n + NR - 1) / NR) * k * NR;

/// <summary>
/// Packs [experts, k, n] row-major weights into NR-wide column panels, [e][panel][k][NR], zero
/// padded: the micro-kernel then streams B contiguously. Done once, when the layer is created.
/// </summary>
public static float[] Pack(global::System.ReadOnlySpan<float> w, int experts, int k, int n)
{
    int stride = PanelStride(k, n);
    var packed = new float[experts * stride];
    for (int e = 0; e < experts; e++)
    {
        for (int p = 0; p * NR < n; p++)
        {
            int cols = global::System.Math.Min(NR, n - (p * NR));
            for (int r = 0; r < k; r++)
            {
                w.Slice((e * k * n) + (r * n) + (p * NR), cols).CopyTo(global::System.MemoryExtensions.AsSpan(packed, (e * stride) + (((p * k) + r) * NR), cols));
            }
        }
    }

    return packed;
}

/// <summary>
/// C[m, n] = (A[m, k] · B + bias) · rowScale, B packed in panels. Blocked over k (KC) so a B
/// block stays in L1 while every MR-row block of A passes over it; the first k block starts
/// from the bias, the last one applies the per-row scale (when scaled) before storing.
/// </summary>
private static void Gemm(ref float a, int lda, ref float b, int k, int n, ref float c, int ldc, int m, ref float bias, bool scaled, ref float rowScale)
{
    int panels = (n + NR - 1) / NR;
    global::System.Span<float> edge = stackalloc float[MR * 32];
    global::System.Span<float> edgeBias = stackalloc float[32];
    for (int k0 = 0; k0 < k; k0 += KC)
    {
        int kc = global::System.Math.Min(KC, k - k0);
        bool first = k0 == 0;
        bool scale = scaled && k0 + kc == k;
        for (int p = 0; p < panels; p++)
        {
            ref float bp = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref b, ((p * k) + k0) * NR);
            int cols = global::System.Math.Min(NR, n - (p * NR));
            for (int r0 = 0; r0 < m; r0 += MR)
            {
                int mr = global::System.Math.Min(MR, m - r0);
                ref float ar = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref a, (r0 * lda) + k0);
                ref float cr = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref c, (r0 * ldc) + (p * NR));
                if (cols == NR)
                {
                    Micro(ref ar, lda, ref bp, kc, ref cr, ldc, mr, first, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref bias, p * NR), scale, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rowScale, r0));
                    continue;
                }

                // A partial last panel works on a padded copy of its columns.
                edgeBias.Clear();
                for (int j = 0; j < cols; j++)
                {
                    edgeBias[j] = global::System.Runtime.CompilerServices.Unsafe.Add(ref bias, (p * NR) + j);
                }

                for (int r = 0; r < mr; r++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        edge[(r * NR) + j] = global::System.Runtime.CompilerServices.Unsafe.Add(ref cr, (r * ldc) + j);
                    }
                }

                Micro(ref ar, lda, ref bp, kc, ref edge[0], NR, mr, first, ref edgeBias[0], scale, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rowScale, r0));
                for (int r = 0; r < mr; r++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        global::System.Runtime.CompilerServices.Unsafe.Add(ref cr, (r * ldc) + j) = edge[(r * NR) + j];
                    }
                }
            }
        }
    }
}

private static void Micro(ref float a, int lda, ref float b, int kc, ref float c, int ldc, int mr, bool first, ref float bias, bool scale, ref float rs)
{
    if (Wide)
    {
        Micro512(ref a, lda, ref b, kc, ref c, ldc, mr, first, ref bias, scale, ref rs);
    }
    else
    {
        Micro256(ref a, lda, ref b, kc, ref c, ldc, mr, first, ref bias, scale, ref rs);
    }
}
" + MicroKernel("Vector512", 16) + "\n" + MicroKernel("Vector256", 8);

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

    /// <summary>
    /// An MR x (2 vectors) register-blocked micro-kernel: 12 accumulators, one broadcast of A and
    /// two loads of B per k. Rows past <c>mr</c> read row mr-1 (valid memory) and are not stored.
    /// </summary>
    private static string MicroKernel(string vec, int lanes)
    {
        var v = "global::System.Runtime.Intrinsics." + vec;
        var bits = vec.Substring("Vector".Length);
        var sb = new System.Text.StringBuilder();
        sb.Append($"private static void Micro{bits}(ref float a, int lda, ref float b, int kc, ref float c, int ldc, int mr, bool first, ref float bias, bool scale, ref float rs)\n{{\n");
        for (var r = 0; r < 6; r++)
        {
            sb.Append($"    ref float a{r} = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref a, global::System.Math.Min({r}, mr - 1) * lda);\n");
        }

        for (var r = 0; r < 6; r++)
        {
            sb.Append($"    ref float c{r} = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref c, global::System.Math.Min({r}, mr - 1) * ldc);\n");
        }

        for (var r = 0; r < 6; r++)
        {
            sb.Append($"    var x{r}0 = first ? {v}.LoadUnsafe(ref bias) : {v}.LoadUnsafe(ref c{r});\n");
            sb.Append($"    var x{r}1 = first ? {v}.LoadUnsafe(ref bias, {lanes}) : {v}.LoadUnsafe(ref c{r}, {lanes});\n");
        }

        sb.Append("    for (int k = 0; k < kc; k++)\n    {\n");
        sb.Append($"        var b0 = {v}.LoadUnsafe(ref b, (nuint)(k * {2 * lanes}));\n");
        sb.Append($"        var b1 = {v}.LoadUnsafe(ref b, (nuint)((k * {2 * lanes}) + {lanes}));\n");
        for (var r = 0; r < 6; r++)
        {
            sb.Append($"        var s{r} = {v}.Create(global::System.Runtime.CompilerServices.Unsafe.Add(ref a{r}, k));\n");
            sb.Append($"        x{r}0 = {v}.FusedMultiplyAdd(s{r}, b0, x{r}0);\n");
            sb.Append($"        x{r}1 = {v}.FusedMultiplyAdd(s{r}, b1, x{r}1);\n");
        }

        sb.Append("    }\n\n");
        sb.Append("    if (scale)\n    {\n");
        for (var r = 0; r < 6; r++)
        {
            sb.Append($"        var g{r} = {v}.Create(global::System.Runtime.CompilerServices.Unsafe.Add(ref rs, global::System.Math.Min({r}, mr - 1)));\n");
            sb.Append($"        x{r}0 *= g{r};\n        x{r}1 *= g{r};\n");
        }

        sb.Append("    }\n\n");
        for (var r = 5; r >= 0; r--)
        {
            // Stored from the last row down, so a clamped duplicate row is overwritten by its original.
            sb.Append($"    if (mr > {r})\n    {{\n        {v}.StoreUnsafe(x{r}0, ref c{r});\n        {v}.StoreUnsafe(x{r}1, ref c{r}, {lanes});\n    }}\n");
        }

        sb.Append("}\n");
        return sb.ToString();
    }
}
