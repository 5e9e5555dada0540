using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;
using Wudao.Compiler.Plan;
using static Wudao.Compiler.Codegen.BackwardFrame;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native target's fragment of each op a backward graph holds (the gradient ops, and the
/// forward ops it recomputes), over the part of its iteration space one work item covers:
/// tokens <c>[t0, t1)</c>; an expert tile, rows <c>[start, start + n)</c> of expert <c>e</c>; a
/// weight tile, rows <c>[i0, i1)</c> of expert <c>e</c>'s gradient summed over its rows
/// <c>[start, end)</c>; or the whole batch. Every value is read and written through the
/// <see cref="BackwardFrame"/>. A new backward op is one entry here (and in
/// <see cref="NativeRouterGradFragments"/> for the router's), beside nothing else.
/// </summary>
internal static class NativeGradFragments
{
    /// <summary>An op's fragment: what it computes, and its body for the kernel it sits in.</summary>
    public sealed record Fragment(string What, System.Func<Node, BackwardFrame, PlannedKernel, string> Body);

    private static readonly Dictionary<string, Fragment> Table = new Dictionary<string, Fragment>
    {
        [Ops.CombineGradRows] = new("each kept choice's row gets its gate times its token's cotangent", CombineGradRows),
        [Ops.CombineGradGates] = new("each kept choice's gate gets ⟨d out[t], y[row]⟩; a dropped choice gets 0", CombineGradGates),
        [Ops.DispatchGrad] = new("each token sums the cotangents of its kept rows, in choice order (a gather, no atomics)", DispatchGrad),
        [Ops.GroupedMatMulDx] = new("the tile's rows times its expert's weight transposed: dX[r, m] = ⟨dY[r], W_e[m]⟩", GroupedDx),
        [Ops.GroupedMatMulDw] = new("rows [i0, i1) of expert e's weight gradient, Σ over its rows of X[r, i]·dY[r], in row order", GroupedDw),
        [Ops.BiasGrad] = new("columns [i0, i1) of expert e's bias gradient, Σ over its rows in row order", BiasGrad),
    }.Concat(NativeRouterGradFragments.All)
     .Concat(Activations.All.SelectMany(a => new[]
     {
         new KeyValuePair<string, Fragment>(a.Op, new($"{a.Op} recomputed from its saved input", (n, f, k) => Activate(a, n, f, k))),
         new KeyValuePair<string, Fragment>(a.GradOp, new($"{a.Op}′ from the formula, times the cotangent", (n, f, k) => ActivationGrad(a, n, f, k))),
     }))
     .ToDictionary(kv => kv.Key, kv => kv.Value);

    public static bool Has(string op) => Table.ContainsKey(op);

    public static Fragment Get(PlannedKernel k, Node n) => Table.TryGetValue(n.Op, out var f)
        ? f
        : throw new KernelAssemblyException($"k{k.Index}: the native backward has no fragment for %{n.Name} = {n.Op} in [{string.Join(", ", k.OpNames)}]");

    /// <summary>The op's fragment in a block of its own, under its IR line and what it computes.</summary>
    public static string Render(PlannedKernel k, Node n, BackwardFrame f)
    {
        var op = Get(k, n);
        var line = $"// {string.Join(", ", n.Results.Select(r => "%" + r))} = {n.Op} {string.Join(", ", n.Operands.Select(o => "%" + o))}: {op.What}.";
        return $"{line}\n{{\n{RouterTokenFragments.Indent(op.Body(n, f, k))}\n}}";
    }

    /// <summary>Writes or, for a weight's gradient, adds.</summary>
    internal static string Set(BackwardFrame f, string value) => f.Accumulates(value) ? "+=" : "=";

    private static string CombineGradRows(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dout = n.Operands[0], experts = n.Operands[1], gates = n.Operands[2], slots = n.Operands[3], dy = n.Results[0];
        int kk = f.Width(experts), d = f.Width(dout);
        return $@"for (int c = t0 * {I(kk)}; c < t1 * {I(kk)}; c++)
{{
    int slot = {f.At(slots, "c")};
    if (slot < 0)
    {{
        continue;
    }}

    long row = {f.Offset(f.At(experts, "c"))} + slot;
    Scale({f.RefAt(dout, $"(long)(c / {I(kk)}) * {I(d)}")}, {f.At(gates, "c")}, {f.RefAt(dy, $"row * {I(d)}")}, {I(d)});
}}";
    }

    private static string CombineGradGates(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dout = n.Operands[0], y = n.Operands[1], experts = n.Operands[2], slots = n.Operands[3], dg = n.Results[0];
        int kk = f.Width(experts), d = f.Width(dout);
        return $@"for (int c = t0 * {I(kk)}; c < t1 * {I(kk)}; c++)
{{
    int slot = {f.At(slots, "c")};
    {f.At(dg, "c")} = slot < 0 ? 0f : Dot({f.RefAt(dout, $"(long)(c / {I(kk)}) * {I(d)}")}, {f.RefAt(y, $"({f.Offset(f.At(experts, "c"))} + (long)slot) * {I(d)}")}, {I(d)});
}}";
    }

    private static string DispatchGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string drows = n.Operands[0], experts = n.Operands[1], slots = n.Operands[2], dx = n.Results[0];
        int kk = f.Width(experts), d = f.Width(drows);
        return $@"for (int t = t0; t < t1; t++)
{{
    Clear({f.RefAt(dx, $"(long)t * {I(d)}")}, {I(d)});
    for (int j = 0; j < {I(kk)}; j++)
    {{
        int c = (t * {I(kk)}) + j;
        int slot = {f.At(slots, "c")};
        if (slot >= 0)
        {{
            Accumulate({f.RefAt(drows, $"({f.Offset(f.At(experts, "c"))} + (long)slot) * {I(d)}")}, {f.RefAt(dx, $"(long)t * {I(d)}")}, {I(d)});
        }}
    }}
}}";
    }

    /// <summary>dX = dY·W_eᵀ for the tile's rows: the packed GEMM over W_eᵀ's panels (packed when the weights are set).</summary>
    private static string GroupedDx(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dy = n.Operands[0], w = n.Operands[1], dx = n.Results[0];
        int m = f.Dim(w, 1), nn = f.Dim(w, 2);
        return $@"Clear({f.RefAt(dx, $"(long)start * {I(m)}")}, n * {I(m)});
GemmAccumulate({f.RefAt(dy, $"(long)start * {I(nn)}")}, {I(nn)}, ref At(ref global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(this.{BackwardFrame.Transposed(w)}), (long)e * PanelStride({I(nn)}, {I(m)})), {I(nn)}, {I(m)}, {f.RefAt(dx, $"(long)start * {I(m)}")}, {I(m)}, n);";
    }

    /// <summary>
    /// Rows [i0, i1) of expert e's dW = Xᵀ·dY over its rows, KC rows of X at a time: the block of
    /// Xᵀ is transposed and the block of dY packed into the worker's scratch, then the packed GEMM
    /// accumulates into dW (a weight's gradient adds; an intermediate is cleared first).
    /// </summary>
    internal static string GemmDw(BackwardFrame f, string a, string dy, string dw, string dwRow)
    {
        int m = f.Width(a), nn = f.Width(dy);
        var clear = f.Accumulates(dw) ? "" : $"Clear({f.RefAt(dw, dwRow)}, (i1 - i0) * {I(nn)});\n";
        return $@"{clear}ref float at = ref Scratch(worker);
ref float bp = ref At(ref at, WeightRows * KC);
for (int r0 = start; r0 < end; r0 += KC)
{{
    int kc = global::System.Math.Min(KC, end - r0);
    for (int kk = 0; kk < kc; kk++)
    {{
        for (int i = i0; i < i1; i++)
        {{
            At(ref at, ((long)(i - i0) * kc) + kk) = {f.At(a, $"((long)(r0 + kk) * {I(m)}) + i")};
        }}
    }}

    PackRows({f.RefAt(dy, $"(long)r0 * {I(nn)}")}, kc, {I(nn)}, ref bp);
    GemmAccumulate(ref at, kc, ref bp, kc, {I(nn)}, {f.RefAt(dw, dwRow)}, {I(nn)}, i1 - i0);
}}";
    }

    private static string GroupedDw(Node n, BackwardFrame f, PlannedKernel k) =>
        GemmDw(f, n.Operands[0], n.Operands[1], n.Results[0], $"(((long)e * {I(f.Width(n.Operands[0]))}) + i0) * {I(f.Width(n.Operands[1]))}");

    private static string BiasGrad(Node n, BackwardFrame f, PlannedKernel k)
    {
        string dy = n.Operands[0], db = n.Results[0];
        var w = f.Width(dy);
        var clear = f.Accumulates(db) ? "" : $"Clear({f.RefAt(db, $"((long)e * {I(w)}) + i0")}, i1 - i0);\n";
        return $@"{clear}for (int r = start; r < end; r++)
{{
    Accumulate({f.RefAt(dy, $"((long)r * {I(w)}) + i0")}, {f.RefAt(db, $"((long)e * {I(w)}) + i0")}, i1 - i0);
}}";
    }

    /// <summary>
    /// The recomputed activation: over the tile's rows in an expert tile; in a weight tile, over
    /// the columns [i0, i1) the gradient GEMM reads of it (a gated one reads gate and up halves).
    /// </summary>
    private static string Activate(ActivationDef a, Node n, BackwardFrame f, PlannedKernel k)
    {
        string x = n.Operands[0], y = n.Results[0];
        int width = f.Width(y), inWidth = f.Width(x);
        var (rows, c0, count) = k.Space == IterationSpace.WeightTiles ? ("r = start; r < end", "i0", "i1 - i0") : ("r = start; r < start + n", "0", I(width));
        return $@"for (int {rows}; r++)
{{
    {ActivationGradEmitter.Activate(a)}({f.RefAt(x, $"((long)r * {I(inWidth)}) + {c0}")}, {f.RefAt(x, $"((long)r * {I(inWidth)}) + {(a.Gated ? I(width) + " + " : "")}{c0}")}, {f.RefAt(y, $"((long)r * {I(width)}) + {c0}")}, {count});
}}";
    }

    /// <summary>d x = f′(x)·d a; gated, d gate = f′(gate)·up·d a and d up = f(gate)·d a. An epilogue over the tile's rows.</summary>
    private static string ActivationGrad(ActivationDef a, Node n, BackwardFrame f, PlannedKernel k)
    {
        string x = n.Operands[0], da = n.Operands[1], dx = n.Results[0];
        int width = f.Width(da), inWidth = f.Width(x);
        string Row(string v, int w, int offset) => f.RefAt(v, $"((long)r * {I(w)}) + {I(offset)}");
        return $@"for (int r = start; r < start + n; r++)
{{
    {ActivationGradEmitter.Gradient(a)}({Row(x, inWidth, 0)}, {Row(x, inWidth, a.Gated ? width : 0)}, {Row(da, width, 0)}, {Row(dx, inWidth, 0)}, {Row(dx, inWidth, a.Gated ? width : 0)}, {I(width)});
}}";
    }
}
