namespace Wudao.Compiler.Codegen;

/// <summary>
/// The packed, register-blocked GEMM every native GEMM is emitted with (the MoE experts and the
/// model's projections, dense MLP and LM head): panel packing, the panel-ranged driver and its
/// Vector512/Vector256 micro-kernels. The enclosing class defines KC, MR, NR and Wide.
/// </summary>
internal static class GemmFragments
{
    /// <summary>Micro-kernel rows.</summary>
    public const int MR = 6;

    public static readonly string Members = @"/// <summary>Floats of one expert's packed weight: ceil(n / NR) panels of k rows by NR columns.</summary>
public static int PanelStride(int k, int n) => ((n + NR - 1) / NR) * k * NR;

/// <summary>
/// Packs [experts, k, n] row-major weights into NR-wide column panels, [e][panel][k][NR], zero
/// padded: the micro-kernel then streams B contiguously. Done once, when the layer is created, into
/// weight memory (huge pages: a decode step streams all of it, and 4 KiB pages slow that stream).
/// </summary>
public static float[] Pack(global::System.ReadOnlySpan<float> w, int experts, int k, int n) =>
    PackInto(w, experts, k, n, global::Wudao.WeightMemory.Floats((long)experts * PanelStride(k, n)));

/// <summary>Packs again into <paramref name=""packed""/> (after an optimizer step: no new memory); padding stays zero.</summary>
public static float[] PackInto(global::System.ReadOnlySpan<float> w, int experts, int k, int n, float[] packed)
{
    int stride = PanelStride(k, n);
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
/// C[m, n] = (A[m, k] · B + bias) · rowScale over panels [p0, p1) of B, packed in panels. With
/// more than MR rows it is blocked over k (KC) so a B block stays in L1 while every MR-row block
/// of A passes over it; with at most MR rows (decode) nothing is reused, so each panel is read
/// once over its whole depth: panels lie end to end, and the read is one sequential stream.
/// The first k block starts from the bias, the last applies the per-row scale (when scaled).
/// </summary>
private static void Gemm(ref float a, int lda, ref float b, int k, int n, ref float c, int ldc, int m, ref float bias, bool scaled, ref float rowScale, int p0, int p1)
{
    int depth = m <= MR ? k : KC;
    global::System.Span<float> edge = stackalloc float[MR * 32];
    global::System.Span<float> edgeBias = stackalloc float[32];
    for (int k0 = 0; k0 < k; k0 += depth)
    {
        int kc = global::System.Math.Min(depth, k - k0);
        bool first = k0 == 0;
        bool scale = scaled && k0 + kc == k;
        for (int p = p0; p < p1; p++)
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

    /// <summary>The constants the members read: KC, MR, and NR/Wide by the machine's vector width.</summary>
    public static void Constants(SourceWriter w)
    {
        w.Line($"public const int KC = {NativeSchedule.KBlock};");
        w.Line($"public const int MR = {MR};");
        w.Line("/// <summary>Micro-kernel width: two vectors of 16 floats with AVX-512, of 8 otherwise.</summary>");
        w.Line("public static readonly bool Wide = global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;");
        w.Line("public static readonly int NR = Wide ? 32 : 16;");
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
