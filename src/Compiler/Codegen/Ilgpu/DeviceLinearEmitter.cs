using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The device schedule's model GEMMs (q/k/v, o, the LM head, a dense MLP's two) and the split of the
/// fused QKV rows, one nested class per shape with every width a constant. A GEMM is explicitly
/// grouped: each group stages x and w tiles in shared memory and each thread accumulates a register
/// block of the output tile; the tiles are the ILGPU schedule's (<see cref="IlgpuSchedule.Gemm"/>,
/// and <see cref="IlgpuSchedule.DecodeGemm"/> for a few rows).
/// </summary>
internal static class DeviceLinearEmitter
{
    private const string View = "global::ILGPU.ArrayView<float>";

    private static readonly string[] Parameters = { View, View, View, View, "int" };

    private static string LinearClass(int k, int n, bool bias) => $"DeviceLinear{k}x{n}{(bias ? "Bias" : "")}";

    private static string SplitClass(int q, int kv) => $"DeviceSplitQkv{q}x{kv}";

    /// <summary>Every GEMM of the plan's dense kernels: the projections and LM head, and a dense MLP's two (with bias).</summary>
    private static IEnumerable<(int K, int N, bool Bias)> Linears(KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        int Rows(string v) => types[v]!.Shape[0].Value;
        int Cols(string v) => types[v]!.Shape[1].Value;
        return plan.Kernels.Where(k => k.Space == IterationSpace.DenseRows).Select(k => k.Nodes[0])
            .SelectMany(n => n.Op == Ops.DenseFfn
                ? new[] { (Cols(n.Operands[0]), Cols(n.Operands[1]), true), (Rows(n.Operands[3]), Cols(n.Operands[3]), true) }
                : new[] { (Cols(n.Operands[0]), Cols(n.Results[0]), false) })
            .Distinct();
    }

    private static IEnumerable<(int Q, int Kv)> Splits(KernelPlan plan) =>
        plan.Graph.Nodes.Where(n => n.Op == Ops.Attention).Select(n => (n.IntAttr("heads") * n.IntAttr("head_dim"), n.IntAttr("kv_heads") * n.IntAttr("head_dim"))).Distinct();

    /// <summary>
    /// y[rows, N] = x[rows, K]·w[K, N] (+ bias): ceil(rows/TM) x ceil(N/TN) groups of the wide tile, or
    /// of the decode tile for a few rows; no launch for none.
    /// </summary>
    public static void Linear(SourceWriter w, string x, string rows, int k, string weight, int n, string y, string? bias = null)
    {
        var cls = LinearClass(k, n, bias != null);
        var args = $"{x}, _d_{weight}!.View.BaseView, _d_{bias ?? weight}!.View.BaseView, {y}, {rows}";
        GemmTile wide = IlgpuSchedule.Gemm, decode = IlgpuSchedule.DecodeGemm;
        w.Open($"if ({rows} > {decode.Rows})");
        w.Line($"_k{cls}!(new global::ILGPU.KernelConfig((({rows} + {wide.Rows - 1}) / {wide.Rows}) * {wide.ColumnTiles(n)}, _gemmGroup), {args});");
        w.Close();
        w.Open($"else if ({rows} > 0)");
        w.Line($"_k{cls}Decode!(new global::ILGPU.KernelConfig((({rows} + {decode.Rows - 1}) / {decode.Rows}) * {decode.ColumnTiles(n)}, _gemmGroup), {args});");
        w.Close();
    }

    public static string Split(string qkv, int q, int kv, string queries, string keys, string values) =>
        $"if (t > 0) {{ _k{SplitClass(q, kv)}!(t * {q + (2 * kv)}, {qkv}, {queries}, {keys}, {values}); }}";

    public static void Fields(SourceWriter w, KernelPlan plan)
    {
        w.Line("private readonly int _gemmGroup;");
        foreach (var (k, n, bias) in Linears(plan))
        {
            w.Line(NestedDeviceKernel.GroupedField(LinearClass(k, n, bias), Parameters));
            w.Line(NestedDeviceKernel.GroupedField(LinearClass(k, n, bias) + "Decode", Parameters));
        }

        foreach (var (q, kv) in Splits(plan))
        {
            w.Line(NestedDeviceKernel.Field(SplitClass(q, kv), 4));
        }
    }

    public static void Init(SourceWriter w, KernelPlan plan, string model)
    {
        w.Line($"// A smaller group plays a GEMM tile's {IlgpuSchedule.GemmThreads} threads in turns; a power of two divides them evenly.");
        w.Line($"_gemmGroup = 1 << global::System.Numerics.BitOperations.Log2((uint)global::System.Math.Min({IlgpuSchedule.GemmThreads}, session.Accelerator.MaxNumThreadsPerGroup));");
        foreach (var (k, n, bias) in Linears(plan))
        {
            var cls = LinearClass(k, n, bias);
            w.Line(NestedDeviceKernel.GroupedLoad(cls, $"{cls}.Device", Parameters, model));
            w.Line(NestedDeviceKernel.GroupedLoad(cls + "Decode", $"{cls}.Decode", Parameters, model));
        }

        foreach (var (q, kv) in Splits(plan))
        {
            w.Line(NestedDeviceKernel.Load(SplitClass(q, kv), 4, model));
        }
    }

    public static void Classes(SourceWriter w, KernelPlan plan)
    {
        foreach (var (k, n, bias) in Linears(plan))
        {
            w.Line($"/// <summary>y[r, c] = Σ_i x[r, i]·w[i, c]{(bias ? " + bias[c]" : "")} over K = {k}, N = {n}; bias is unread without one.</summary>");
            w.Open($"private static class {LinearClass(k, n, bias)}");
            w.Line($"private const int K = {k};");
            w.Line($"private const int N = {n};");
            w.Line();
            DeviceGemmKernel.Emit(w, "Device", IlgpuSchedule.Gemm, n, bias);
            w.Line();
            DeviceGemmKernel.Emit(w, "Decode", IlgpuSchedule.DecodeGemm, n, bias);
            w.Close();
            w.Line();
        }

        foreach (var (q, kv) in Splits(plan))
        {
            w.Lines($@"/// <summary>The fused projection's rows [t, {q} + 2·{kv}] into Q, K and V; one thread per element of a row.</summary>
private static class {SplitClass(q, kv)}
{{
    public static void Device(global::ILGPU.Index1D i, {View} qkv, {View} q, {View} k, {View} v)
    {{
        int t = i / {q + (2 * kv)};
        int c = i - (t * {q + (2 * kv)});
        float value = qkv[i];
        if (c < {q})
        {{
            q[((long)t * {q}) + c] = value;
        }}
        else if (c < {q + kv})
        {{
            k[((long)t * {kv}) + c - {q}] = value;
        }}
        else
        {{
            v[((long)t * {kv}) + c - {q + kv}] = value;
        }}
    }}
}}
");
        }
    }
}
