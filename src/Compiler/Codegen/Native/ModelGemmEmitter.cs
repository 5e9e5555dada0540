using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The model's GEMMs on the native target (q/k/v and output projections, dense MLP, LM head): each
/// weight packed into panels once, at load, and multiplied by the experts' micro-kernel. Work is
/// split into row tiles × runs of adjacent panels over the session's workers, so a decode step
/// (one row) streams every weight once, in order, on all threads.
/// </summary>
public static class ModelGemmEmitter
{
    /// <summary>The weights the model's native GEMMs read packed (matmul operands and the dense MLP's two GEMMs).</summary>
    public static IReadOnlyList<(string Value, int K, int N)> PackedWeights(KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        var result = new List<(string, int, int)>();
        foreach (var n in plan.Kernels.Where(k => k.Space == IterationSpace.DenseRows).SelectMany(k => k.Nodes))
        {
            var weights = n.Op == Ops.DenseFfn ? new[] { n.Operands[1], n.Operands[3] } : new[] { n.Operands[1] };
            foreach (var w in weights.Where(w => result.All(r => r.Item1 != w)))
            {
                var shape = types[w]!.Shape;
                result.Add((w, shape[0].Value, shape[1].Value));
            }
        }

        return result;
    }

    /// <summary>The packed copies, made when the session runs the native target.</summary>
    public static void Init(SourceWriter w, KernelPlan plan)
    {
        foreach (var (value, k, n) in PackedWeights(plan))
        {
            w.Line($"_p_{value} = session.Workers != null ? NativeGemm.Pack(_w_{value}, 1, {k}, {n}) : global::System.Array.Empty<float>();");
        }
    }

    public static void Fields(SourceWriter w, KernelPlan plan)
    {
        foreach (var (value, _, _) in PackedWeights(plan))
        {
            w.Line($"private readonly float[] _p_{value};");
        }

        w.Line("private readonly NativeGemm _gemm = new NativeGemm();");
    }

    /// <summary>
    /// One GEMM call over <paramref name="rows"/> rows: <paramref name="a"/> is a span of the
    /// workspace, located by its offset in it; so is <paramref name="c"/>, unless it is a whole
    /// array of its own (<paramref name="cIsArray"/>).
    /// </summary>
    public static string Call(string a, string rows, int k, string weight, int n, string? bias, string c, bool cIsArray = false)
    {
        static string Offset(string span) => $"global::Wudao.Models.Workspace.OffsetOf(_workspace, {span})";
        var (array, offset) = cIsArray ? (c, "0") : ("_workspace", Offset(c));
        return $"_gemm.Linear(_session.Workers!, _workspace, {Offset(a)}, {rows}, {k}, _p_{weight}, {n}, {bias ?? "null"}, {array}, {offset});";
    }

    /// <summary>The nested class holding the GEMM and its work split.</summary>
    public static void Class(SourceWriter w, KernelPlan plan)
    {
        var widest = PackedWeights(plan).Select(p => p.N).DefaultIfEmpty(1).Max();
        w.Line("/// <summary>The model's GEMMs on the native target: packed panels and the experts' micro-kernel, split over the session's workers.</summary>");
        w.Open("private sealed class NativeGemm : global::Wudao.CpuKernelSet");
        w.Line("public NativeGemm() : base(new string[] { \"gemm\" }) { }");
        w.Line();
        w.Line($"public const int TileRows = {NativeSchedule.TileRows};");
        GemmFragments.Constants(w);
        w.Line("/// <summary>Multiply-adds under which a GEMM stays on the calling thread (handing it out would cost more).</summary>");
        w.Line("public const long Inline = 1L << 15;");
        w.Line($"private static readonly float[] Zeros = new float[{widest}];");
        w.Line("private float[] _a = Zeros, _b = Zeros, _c = Zeros, _bias = Zeros;");
        w.Line("private int _aOff, _cOff, _m, _k, _n, _groups, _perGroup;");
        w.Line();
        w.Lines(Driver);
        w.Line();
        w.Lines(GemmFragments.Members);
        w.Close();
    }

    private const string Driver = @"/// <summary>c[m, n] (from cOff) = a[m, k] (from aOff) · B + bias, B packed by <see cref=""Pack""/> (one matrix).</summary>
public void Linear(global::Wudao.CpuWorkers workers, float[] a, int aOff, int m, int k, float[] packed, int n, float[]? bias, float[] c, int cOff)
{
    if (m == 0)
    {
        return;
    }

    int panels = (n + NR - 1) / NR;
    int tiles = (m + TileRows - 1) / TileRows;
    (_a, _aOff, _m, _k, _b, _n, _bias, _c, _cOff) = (a, aOff, m, k, packed, n, bias ?? Zeros, c, cOff);

    // About four work items a thread, each a run of adjacent panels: one sequential stream of B.
    int groups = workers.Threads == 1 || (long)m * k * n < Inline ? 1 : global::System.Math.Clamp(((4 * workers.Threads) + tiles - 1) / tiles, 1, panels);
    _perGroup = (panels + groups - 1) / groups;
    _groups = (panels + _perGroup - 1) / _perGroup;
    if (tiles * _groups == 1)
    {
        Run(0, 0, 0);
    }
    else
    {
        workers.For(this, 0, tiles * _groups);
    }
}

public override void Run(int kernel, int item, int worker)
{
    int tile = item / _groups;
    int group = item - (tile * _groups);
    int r0 = tile * TileRows;
    int p0 = group * _perGroup;
    int p1 = global::System.Math.Min((_n + NR - 1) / NR, p0 + _perGroup);
    ref float bias = ref global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_bias);
    Gemm(ref _a[_aOff + (r0 * _k)], _k, ref global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(_b), _k, _n, ref _c[_cOff + (r0 * _n)], _n, global::System.Math.Min(TileRows, _m - r0), ref bias, false, ref bias, p0, p1);
}";
}
