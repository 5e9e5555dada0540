using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The device schedule's model GEMMs (q/k/v, o, the LM head) and the split of the fused QKV rows,
/// one nested class per shape with every width a constant. Correct first: one thread per output
/// element, reading w coalesced across a warp's columns; the tiled GPU GEMM is the GPU issue's.
/// </summary>
internal static class DeviceLinearEmitter
{
    private const string View = "global::ILGPU.ArrayView<float>";

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

    /// <summary>y[rows, N] = x[rows, K]·w[K, N] (+ bias), launched when there are rows.</summary>
    public static string Linear(string x, string rows, int k, string weight, int n, string y, string? bias = null) =>
        $"if ({rows} > 0) {{ _k{LinearClass(k, n, bias != null)}!({rows} * {n}, {x}, _d_{weight}!.View.BaseView, {(bias != null ? $"_d_{bias}!.View.BaseView" : $"_d_{weight}!.View.BaseView")}, {y}); }}";

    public static string Split(string qkv, int q, int kv, string queries, string keys, string values) =>
        $"if (t > 0) {{ _k{SplitClass(q, kv)}!(t * {q + (2 * kv)}, {qkv}, {queries}, {keys}, {values}); }}";

    public static void Fields(SourceWriter w, KernelPlan plan)
    {
        foreach (var (k, n, bias) in Linears(plan))
        {
            w.Line(NestedDeviceKernel.Field(LinearClass(k, n, bias), 4));
        }

        foreach (var (q, kv) in Splits(plan))
        {
            w.Line(NestedDeviceKernel.Field(SplitClass(q, kv), 4));
        }
    }

    public static void Init(SourceWriter w, KernelPlan plan, string model)
    {
        foreach (var (k, n, bias) in Linears(plan))
        {
            w.Line(NestedDeviceKernel.Load(LinearClass(k, n, bias), 4, model));
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
            w.Lines($@"/// <summary>y[r, c] = Σ_i x[r, i]·w[i, c]{(bias ? " + bias[c]" : "")} over K = {k}, N = {n}; one thread per output element.</summary>
private static class {LinearClass(k, n, bias)}
{{
    public static void Device(global::ILGPU.Index1D i, {View} x, {View} w, {View} bias, {View} y)
    {{
        int r = i / {n};
        int c = i - (r * {n});
        long xo = (long)r * {k};
        float acc = {(bias ? "bias[c]" : "0f")};
        for (int k = 0; k < {k}; k++)
        {{
            acc += x[xo + k] * w[((long)k * {n}) + c];
        }}

        y[i] = acc;
    }}
}}
");
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
