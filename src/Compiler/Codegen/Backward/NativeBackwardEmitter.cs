using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;
using static Wudao.Compiler.Codegen.BackwardFrame;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native target of a backward plan: each planned kernel becomes a method of a
/// <c>CpuBackward</c> kernel set, its ops' fragments (<see cref="NativeGradFragments"/>) run in
/// node order over one work item of the kernel's iteration space, split over the session's CPU
/// threads. Work items never write the same element, and every sum runs in a fixed order, so the
/// gradients are bitwise the same for any thread count.
/// </summary>
public static class NativeBackwardEmitter
{
    /// <summary>Rows of a weight gradient one work item owns (a multiple of the micro-kernel's rows): the block of dW it accumulates stays in cache.</summary>
    public const int WeightRows = 96;

    /// <summary>Columns of a bias gradient one work item owns.</summary>
    public const int BiasColumns = 256;

    /// <summary>Checks that every op of the backward plan has a native fragment; the message names the first that has none.</summary>
    public static void Check(BackwardGraph backward)
    {
        foreach (var k in backward.Plan.Kernels)
        {
            foreach (var n in k.Nodes.Where(n => n.Op != Ops.Param))
            {
                NativeGradFragments.Get(k, n);
            }

            if (k.Space == IterationSpace.WeightTiles)
            {
                Anchor(k);
            }
        }
    }

    public static void Emit(SourceWriter w, BackwardGraph backward)
    {
        Check(backward);
        var f = new BackwardFrame(backward);
        var g = backward.Graph;
        var kernels = backward.Plan.Kernels;
        w.Line("/// <summary>The layer's backward plan (see Info.TrainPlanText), scheduled for the CPU: one method per planned kernel.</summary>");
        w.Open("public sealed class CpuBackward : global::Wudao.CpuKernelSet");
        w.Line($"public CpuBackward() : base(new string[] {{ {string.Join(", ", kernels.Select(k => "\"" + k.Name + "\""))} }}) {{ }}");
        w.Line();
        w.Line($"public const int TokenChunk = {NativeSchedule.TokenChunk};");
        w.Line($"public const int TileRows = {NativeSchedule.TileRows};");
        w.Line($"public const int WeightRows = {WeightRows};");
        GemmFragments.Constants(w);
        var widest = g.Nodes.Where(n => n.Op is Ops.GroupedMatMulDw or Ops.MatMulTn).Select(n => f.Width(n.Operands[1])).DefaultIfEmpty(0).Max();
        w.Line("/// <summary>Scratch floats per worker: a weight tile's block of Xᵀ and a block of dY packed in panels.</summary>");
        w.Line($"public static int ScratchFloats => (WeightRows * KC) + (KC * (({I(widest)} + NR - 1) / NR) * NR);");
        w.Line("public global::ILGPU.ArrayView<float> scratch;");
        foreach (var t in f.TransposedWeights)
        {
            w.Line($"public float[] {BackwardFrame.Transposed(t)} = global::System.Array.Empty<float>();");
        }

        w.Line("/// <summary>Tokens of the call the backward runs for.</summary>");
        w.Line("public int tokens;");
        w.Line("/// <summary>The bound on kept rows its row buffers are sized for.</summary>");
        w.Line("public int rowBound;");
        var values = g.Inputs.Select(i => i.Key).Concat(g.Nodes.SelectMany(n => n.Results)).Distinct().ToList();
        foreach (var v in values)
        {
            w.Line($"public {f.FieldType(v)} {f.Field(v)}{(f.FieldType(v) == "float[]" ? " = global::System.Array.Empty<float>()" : "")};");
        }

        w.Line();
        w.Open("public override void Run(int kernel, int item, int worker)");
        w.Open("switch (kernel)");
        foreach (var k in kernels)
        {
            w.Line($"case {k.Index}: K{k.Index}(item, worker); break;");
        }

        w.Line("default: throw new global::System.ArgumentOutOfRangeException(nameof(kernel));");
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>Rents the backward's own values (every value no caller binds) and <paramref name=\"threads\"/> workers' scratch from <paramref name=\"scope\"/>, sized for <see cref=\"tokens\"/> and <see cref=\"rowBound\"/>.</summary>");
        w.Open("public void Rent(global::Wudao.ForwardScope scope, int threads)");
        w.Line("scratch = scope.F32((long)threads * ScratchFloats);");
        foreach (var v in g.Nodes.Where(n => n.Op != Ops.Param).SelectMany(n => n.Results).Where(r => !g.Outputs.Contains(r)))
        {
            w.Line($"{f.Field(v)} = scope.{(f.IsInt(v) ? "I32" : "F32")}({f.Length(v)});");
        }

        w.Close();
        w.Line();
        EmitLaunch(w, f, kernels);
        foreach (var k in kernels)
        {
            w.Line();
            EmitKernel(w, f, k);
        }

        w.Line();
        w.Lines(Helpers(f));
        w.Lines(GemmFragments.Members);
        w.Lines(GemmHelpers);
        var activations = ActivationGradEmitter.Emit(g.Nodes.Select(n => n.Op));
        if (activations.Length > 0)
        {
            w.Lines(ActivationGradEmitter.Loads);
            w.Lines(activations);
        }

        w.Close();
    }

    private static void EmitLaunch(SourceWriter w, BackwardFrame f, IReadOnlyList<PlannedKernel> kernels)
    {
        w.Line("/// <summary>Runs the backward plan in order; every value must be bound and <see cref=\"tokens\"/> set.</summary>");
        w.Open("public void Launch(global::Wudao.CpuWorkers workers)");
        w.Line("long start;");
        foreach (var k in kernels)
        {
            w.Line("start = global::System.Diagnostics.Stopwatch.GetTimestamp();");
            w.Line(k.Space == IterationSpace.TokenScan ? $"K{k.Index}(0, 0);" : $"workers.For(this, {k.Index}, {Items(f, k)});");
            w.Line($"ElapsedTicks[{k.Index}] += global::System.Diagnostics.Stopwatch.GetTimestamp() - start;");
        }

        w.Close();
    }

    /// <summary>Work items of a kernel: token chunks, expert tiles, or blocks of the weight gradient it sums.</summary>
    private static string Items(BackwardFrame f, PlannedKernel k) => k.Space switch
    {
        IterationSpace.ExpertRows => "CountTiles()",
        IterationSpace.WeightTiles => Anchor(k) is var a ? I((a.Grouped ? f.Experts : 1) * Blocks(f, a)) : "",
        IterationSpace.TokenRows or IterationSpace.TokenGather or IterationSpace.Choices => "(tokens + TokenChunk - 1) / TokenChunk",
        _ => throw new KernelAssemblyException($"k{k.Index}: the native backward has no schedule for {k.Space} kernels"),
    };

    private static void EmitKernel(SourceWriter w, BackwardFrame f, PlannedKernel k)
    {
        w.Line($"/// <summary>k{k.Index} {k.Name}: [{string.Join(", ", k.OpNames)}].</summary>");
        w.Open($"private void K{k.Index}(int item, int worker)");
        var used = k.Nodes.SelectMany(n => n.Operands.Concat(n.Results)).Distinct().ToList();
        foreach (var v in used)
        {
            w.Line(f.Declare(v));
        }

        switch (k.Space)
        {
            case IterationSpace.ExpertRows:
                w.Open("if (!Tile(item, out int e, out int start, out int n))");
                w.Line("return;");
                w.Close();
                break;
            case IterationSpace.WeightTiles:
                var a = Anchor(k);
                var blocks = Blocks(f, a);
                w.Line($"int e = item / {I(blocks)};");
                w.Line($"int i0 = (item % {I(blocks)}) * {I(a.Block)};");
                w.Line($"int i1 = global::System.Math.Min({I(a.Axis(f))}, i0 + {I(a.Block)});");
                w.Line(a.Grouped ? $"int start = {f.Offset("e")};" : "int start = 0;");
                w.Line(a.Grouped ? $"int end = {f.Offset("e + 1")};" : "int end = tokens;");
                break;
            case IterationSpace.TokenScan:
                break;
            default:
                w.Line("int t0 = item * TokenChunk;");
                w.Line("int t1 = global::System.Math.Min(tokens, t0 + TokenChunk);");
                break;
        }

        foreach (var n in k.Nodes.Where(n => n.Op != Ops.Param))
        {
            w.Lines(NativeGradFragments.Render(k, n, f));
        }

        w.Close();
    }

    /// <summary>A weight-tile kernel's last op, which decides its tiles: what it sums over and which axis it blocks.</summary>
    private sealed record WeightAnchor(Node Node, bool Grouped, int Block)
    {
        /// <summary>The blocked axis: the rows of dW (the columns of the X it reads), or a bias's columns.</summary>
        public int Axis(BackwardFrame f) => f.Width(Node.Operands[0]);
    }

    private static WeightAnchor Anchor(PlannedKernel k)
    {
        var last = k.Nodes[k.Nodes.Count - 1];
        var anchor = last.Op switch
        {
            Ops.GroupedMatMulDw => new WeightAnchor(last, true, WeightRows),
            Ops.BiasGrad => new WeightAnchor(last, true, BiasColumns),
            Ops.MatMulTn => new WeightAnchor(last, false, WeightRows),
            _ => throw new KernelAssemblyException($"k{k.Index}: a weight-tile kernel ends in a weight gradient (grouped_matmul_dw, bias_grad, matmul_tn), not {last.Op}"),
        };

        // Ops before the gradient are elementwise prologues over the tile's columns of what it reads.
        foreach (var n in k.Nodes.Take(k.Nodes.Count - 1).Where(n => n.Op != Ops.Param))
        {
            if (!Activations.IsActivation(n.Op) || !last.Operands.Contains(n.Results[0]))
            {
                throw new KernelAssemblyException($"k{k.Index}: %{n.Name} = {n.Op} is no elementwise prologue of %{last.Name} = {last.Op}; the native weight tile cannot hold it");
            }
        }

        return anchor;
    }

    private static int Blocks(BackwardFrame f, WeightAnchor a) => (a.Axis(f) + a.Block - 1) / a.Block;

    /// <summary>The GEMM pieces only the backward needs: an accumulating driver, dY rows packed into panels, and weights' packed transposes.</summary>
    private const string GemmHelpers = @"/// <summary>C[m, n] += A[m, k]·B over B's packed panels, KC deep at a time (the micro-kernel starting from C).</summary>
private static void GemmAccumulate(ref float a, int lda, ref float b, int k, int n, ref float c, int ldc, int m)
{
    global::System.Span<float> edge = stackalloc float[MR * 32];
    global::System.Span<float> none = stackalloc float[1];
    for (int k0 = 0; k0 < k; k0 += KC)
    {
        int kc = global::System.Math.Min(KC, k - k0);
        for (int p = 0; p * NR < n; p++)
        {
            ref float bp = ref At(ref b, ((long)(p * k) + k0) * NR);
            int cols = global::System.Math.Min(NR, n - (p * NR));
            for (int r0 = 0; r0 < m; r0 += MR)
            {
                int mr = global::System.Math.Min(MR, m - r0);
                ref float ar = ref At(ref a, ((long)r0 * lda) + k0);
                ref float cr = ref At(ref c, ((long)r0 * ldc) + (p * NR));
                if (cols == NR)
                {
                    Micro(ref ar, lda, ref bp, kc, ref cr, ldc, mr, false, ref none[0], false, ref none[0]);
                    continue;
                }

                for (int r = 0; r < mr; r++)
                {
                    for (int j = 0; j < NR; j++)
                    {
                        edge[(r * NR) + j] = j < cols ? At(ref cr, ((long)r * ldc) + j) : 0f;
                    }
                }

                Micro(ref ar, lda, ref bp, kc, ref edge[0], NR, mr, false, ref none[0], false, ref none[0]);
                for (int r = 0; r < mr; r++)
                {
                    for (int j = 0; j < cols; j++)
                    {
                        At(ref cr, ((long)r * ldc) + j) = edge[(r * NR) + j];
                    }
                }
            }
        }
    }
}

/// <summary>Rows [k, n] of a row-major matrix into NR-wide panels [panel][k][NR], zero padded.</summary>
private static void PackRows(ref float src, int k, int n, ref float dst)
{
    for (int p = 0; p * NR < n; p++)
    {
        int cols = global::System.Math.Min(NR, n - (p * NR));
        for (int r = 0; r < k; r++)
        {
            ref float row = ref At(ref dst, ((long)(p * k) + r) * NR);
            global::System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref At(ref src, ((long)r * n) + (p * NR)), cols).CopyTo(global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref row, NR));
            global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref At(ref row, cols), NR - cols).Clear();
        }
    }
}

/// <summary>Each expert's [rows, cols] weight transposed to [cols, rows] and packed in panels: the B of dX = dY·Wᵀ.</summary>
public static float[] PackTransposed(float[] w, int experts, int rows, int cols, float[]? into = null)
{
    int stride = PanelStride(cols, rows);
    var packed = into ?? global::Wudao.WeightMemory.Floats((long)experts * stride);
    for (int e = 0; e < experts; e++)
    {
        for (int p = 0; p * NR < rows; p++)
        {
            int lanes = global::System.Math.Min(NR, rows - (p * NR));
            for (int j = 0; j < lanes; j++)
            {
                long from = ((long)e * rows * cols) + ((long)((p * NR) + j) * cols);
                long to = ((long)e * stride) + ((long)p * cols * NR) + j;
                for (int r = 0; r < cols; r++)
                {
                    packed[to + ((long)r * NR)] = w[from + r];
                }
            }
        }
    }

    return packed;
}

private ref float Scratch(int worker) => ref At(ref global::Wudao.CpuMemory.Ref(this.scratch), (long)worker * ScratchFloats);
";

    private static string Helpers(BackwardFrame f)
    {
        const string Unsafe = "global::System.Runtime.CompilerServices.Unsafe";
        const string Span = "global::System.Runtime.InteropServices.MemoryMarshal.CreateSpan";
        const string Tp = "global::System.Numerics.Tensors.TensorPrimitives";
        var tiles = f.Offsets == null ? "" : $@"
/// <summary>Expert tiles of the kept rows, numbered expert by expert (the forward's tiling).</summary>
private int CountTiles()
{{
    ref int o = ref global::Wudao.CpuMemory.Ref(this.{f.Field(f.Offsets)});
    int tiles = 0;
    for (int e = 0; e < {I(f.Experts)}; e++)
    {{
        tiles += (At(ref o, e + 1) - At(ref o, e) + TileRows - 1) / TileRows;
    }}

    return tiles;
}}

/// <summary>Tile <paramref name=""item""/>: rows [start, start + n) of expert e.</summary>
private bool Tile(int item, out int e, out int start, out int n)
{{
    ref int o = ref global::Wudao.CpuMemory.Ref(this.{f.Field(f.Offsets)});
    int tile = item;
    for (e = 0; e < {I(f.Experts)}; e++)
    {{
        int first = At(ref o, e);
        int count = At(ref o, e + 1) - first;
        int here = (count + TileRows - 1) / TileRows;
        if (tile < here)
        {{
            start = first + (tile * TileRows);
            n = global::System.Math.Min(TileRows, count - (tile * TileRows));
            return true;
        }}

        tile -= here;
    }}

    start = 0;
    n = 0;
    return false;
}}
";
        return $@"private static ref float At(ref float b, long i) => ref {Unsafe}.Add(ref b, (nint)i);

private static ref int At(ref int b, long i) => ref {Unsafe}.Add(ref b, (nint)i);

private static float Dot(ref float a, ref float b, int n) => {Tp}.Dot({Span}(ref a, n), {Span}(ref b, n));

/// <summary>y += s·x over n elements.</summary>
private static void Axpy(float s, ref float x, ref float y, int n) => {Tp}.MultiplyAdd({Span}(ref x, n), s, {Span}(ref y, n), {Span}(ref y, n));

/// <summary>y = s·x over n elements.</summary>
private static void Scale(ref float x, float s, ref float y, int n) => {Tp}.Multiply({Span}(ref x, n), s, {Span}(ref y, n));

/// <summary>y += x over n elements.</summary>
private static void Accumulate(ref float x, ref float y, int n) => {Tp}.Add({Span}(ref x, n), {Span}(ref y, n), {Span}(ref y, n));

private static void Clear(ref float y, int n) => {Span}(ref y, n).Clear();
{tiles}";
    }
}
