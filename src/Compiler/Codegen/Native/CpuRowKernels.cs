using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native schedules of the row kernels: dispatch (row copies, with the gate kept beside
/// each row when combine's weight moves into the GEMM epilogue), the expert tiles (two packed
/// GEMMs around the activation, in the worker's scratch) and combine (vectorised weighted sums).
/// </summary>
internal static class CpuRowKernels
{
    public static string Dispatch(DispatchKernel k, string gatesField)
    {
        var offsets = "Kernels." + k.Offsets;
        var gate = $@"    if (this.rowsScaled)
    {{
        global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.rowgates), row) = global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.{gatesField}), c);
    }}
";
        return $@"int c0 = item * TokenChunk * Kernels.K;
int c1 = global::System.Math.Min(this.args.Tokens * Kernels.K, c0 + (TokenChunk * Kernels.K));
for (int c = c0; c < c1; c++)
{{
    int slot = global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c);
    if (slot < 0)
    {{
        continue;
    }}

    int row = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c)) + slot;
    global::System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, (c / Kernels.K) * Kernels.D), Kernels.D)
        .CopyTo(global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rows, row * Kernels.D), Kernels.D));
{gate}}}
";
    }

    public static string ExpertFfn(ExpertKernel x)
    {
        var mlp = x.Mlp;
        var scale = "this.rowsScaled, ref (this.rowsScaled ? ref global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.rowgates), start) : ref h)";
        var offsets = "Kernels." + x.Offsets;
        var activation = mlp.Activation == null ? "" : @"for (int r = 0; r < n; r++)
{
    ref float hrow = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref h, r * Kernels.H1);
    ActivateRow(ref hrow, ref hrow);
}
";
        var save = x.SavedHidden == null ? "" : $@"if (this.saving)
{{
    // Training: the hidden rows before the activation are kept for backward, which recomputes the activation.
    global::System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref h, n * Kernels.H1).CopyTo(global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(this.{KernelReading.SaveBuffer(x.SavedHidden)}), start * Kernels.H1), n * Kernels.H1));
}}

";
        string Bias(Node? bias, string param, string width) => bias != null ? $"ref global::System.Runtime.CompilerServices.Unsafe.Add(ref {param}, e * {width})" : "ref Zeros[0]";
        return $@"// This tile: rows [start, start + n) of expert e (tiles are numbered expert by expert).
int tile = item;
int e = -1;
int start = 0;
int n = 0;
for (int ee = 0; ee < Kernels.E && e < 0; ee++)
{{
    int first = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + ee);
    int count = global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + ee + 1) - first;
    int tilesHere = (count + TileRows - 1) / TileRows;
    if (tile < tilesHere)
    {{
        e = ee;
        start = first + (tile * TileRows);
        n = global::System.Math.Min(TileRows, count - (tile * TileRows));
    }}
    else
    {{
        tile -= tilesHere;
    }}
}}

if (e < 0)
{{
    return;
}}

// Fused MLP: the hidden tile [n, H1] lives in this worker's scratch, never in shared buffers.
ref float h = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref global::Wudao.CpuMemory.Ref(scratch), worker * ScratchFloats);
Gemm(ref global::System.Runtime.CompilerServices.Unsafe.Add(ref rows, start * Kernels.D), Kernels.D, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref w1, e * PanelStride(Kernels.D, Kernels.H1)), Kernels.D, Kernels.H1, ref h, Kernels.H1, n, {Bias(mlp.UpBias, "b1", "Kernels.H1")}, false, ref h, 0, (Kernels.H1 + NR - 1) / NR);
{save}{activation}
Gemm(ref h, Kernels.H1, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref w2, e * PanelStride(Kernels.H, Kernels.D)), Kernels.H, Kernels.D, ref global::System.Runtime.CompilerServices.Unsafe.Add(ref y, start * Kernels.D), Kernels.D, n, {Bias(mlp.DownBias, "b2", "Kernels.D")}, {scale}, 0, (Kernels.D + NR - 1) / NR);
";
    }

    public static string Combine(CombineKernel k)
    {
        var offsets = "Kernels." + k.Offsets;
        return $@"int t0 = item * TokenChunk;
int t1 = global::System.Math.Min(this.args.Tokens, t0 + TokenChunk);
global::System.Span<int> rowOf = stackalloc int[Kernels.K];
global::System.Span<float> gateOf = stackalloc float[Kernels.K];
for (int t = t0; t < t1; t++)
{{
    // The token's kept choices, in choice order: their expert rows and gates.
    int n = 0;
    bool poisoned = false;
    for (int j = 0; j < Kernels.K; j++)
    {{
        int c = (t * Kernels.K) + j;
        int slot = global::System.Runtime.CompilerServices.Unsafe.Add(ref slots, c);
        float g = global::System.Runtime.CompilerServices.Unsafe.Add(ref gates, c);
        poisoned |= slot < 0 && g != g;
        if (slot >= 0)
        {{
            rowOf[n] = (global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {offsets} + global::System.Runtime.CompilerServices.Unsafe.Add(ref experts, c)) + slot) * Kernels.D;

            // With the gate applied in the expert epilogue, combine only sums the rows.
            gateOf[n] = this.rowsScaled ? 1f : g;
            n++;
        }}
    }}

    // Each output element sums its rows in choice order, in registers, and is stored once.
    ref float o = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref output, t * Kernels.D);
    if (poisoned)
    {{
        // A non-finite token chose no expert: its output is NaN, not zero.
        global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref o, Kernels.D).Fill(float.NaN);
        continue;
    }}

    int d = 0;
    if (Wide)
    {{
        for (; d + 16 <= Kernels.D; d += 16)
        {{
            var acc = global::System.Runtime.Intrinsics.Vector512<float>.Zero;
            for (int j = 0; j < n; j++)
            {{
                acc += gateOf[j] * global::System.Runtime.Intrinsics.Vector512.LoadUnsafe(ref y, (nuint)(rowOf[j] + d));
            }}

            global::System.Runtime.Intrinsics.Vector512.StoreUnsafe(acc, ref o, (nuint)d);
        }}
    }}

    for (; d + 8 <= Kernels.D; d += 8)
    {{
        var acc = global::System.Runtime.Intrinsics.Vector256<float>.Zero;
        for (int j = 0; j < n; j++)
        {{
            acc += gateOf[j] * global::System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref y, (nuint)(rowOf[j] + d));
        }}

        global::System.Runtime.Intrinsics.Vector256.StoreUnsafe(acc, ref o, (nuint)d);
    }}

    for (; d < Kernels.D; d++)
    {{
        float acc = 0f;
        for (int j = 0; j < n; j++)
        {{
            acc += gateOf[j] * global::System.Runtime.CompilerServices.Unsafe.Add(ref y, rowOf[j] + d);
        }}

        global::System.Runtime.CompilerServices.Unsafe.Add(ref o, d) = acc;
    }}
}}
";
    }
}
