using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The model's norm kernels on both schedules — embed + norm and the residual add + norm that
/// the lowering fuses into one op — as a nested class per (RMSNorm or LayerNorm, width, ε), every
/// one a constant: native rows over 256-bit vectors (the width is a multiple of 8, as every head
/// dim is) and an ILGPU kernel of one thread per row.
/// </summary>
internal static class NormEmitter
{
    private const string V = "global::System.Runtime.Intrinsics.Vector256";
    private const string MM = "global::System.Runtime.InteropServices.MemoryMarshal";
    private const string View = "global::ILGPU.ArrayView<float>";

    private sealed record Shape(bool Layer, int Dim, string Eps, int Vocab)
    {
        public string Class => $"{(Layer ? "LayerNorm" : "RmsNorm")}{Dim}";
    }

    /// <summary>The norm node of a token-rows kernel: the embed kernel's second op, else its only one.</summary>
    private static Node NormOf(PlannedKernel k) => k.Nodes[0].Op == Ops.Embed ? k.Nodes[1] : k.Nodes[0];

    private static bool IsNorm(PlannedKernel k) => k.Space == IterationSpace.TokenRows;

    private static Shape Of(PlannedKernel k, KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        var norm = NormOf(k);
        var embed = plan.Graph.Nodes.First(n => n.Op == Ops.Embed);
        return new Shape(norm.Op is Ops.LayerNorm or Ops.AddLayerNorm, types[norm.Operands[0]]!.Shape[1].Value, CSharpNames.Float(norm.FloatAttr("eps")), types[embed.Operands[1]]!.Shape[0].Value);
    }

    private static IEnumerable<Shape> Shapes(KernelPlan plan) => plan.Kernels.Where(IsNorm).Select(k => Of(k, plan)).Distinct();

    /// <summary>The native call of a token-rows kernel (embed + norm or add + norm).</summary>
    public static void Native(SourceWriter w, PlannedKernel k, KernelPlan plan)
    {
        var s = Of(k, plan);
        var n = k.Nodes[0];
        var norm = NormOf(k);
        var beta = Beta(norm, "_w_", "none");
        w.Line(n.Op == Ops.Embed
            ? $"{s.Class}.Embed(ids, _w_{n.Operands[1]}, v_{n.Results[0]}, _w_{norm.Operands[GammaAt(norm)]}, {beta}, v_{norm.Results[0]});"
            : $"{s.Class}.Add(v_{n.Operands[0]}, v_{n.Operands[1]}, v_{n.Results[0]}, _w_{norm.Operands[GammaAt(norm)]}, {beta}, v_{n.Results[1]}, t);");
    }

    /// <summary>The device launch of a token-rows kernel.</summary>
    public static void Device(SourceWriter w, PlannedKernel k, KernelPlan plan)
    {
        var s = Of(k, plan);
        var n = k.Nodes[0];
        var norm = NormOf(k);
        var gamma = $"_d_{norm.Operands[GammaAt(norm)]}!.View.BaseView";
        var beta = Beta(norm, "_d_", null) is { } b ? $"{b}!.View.BaseView" : gamma;
        w.Line(n.Op == Ops.Embed
            ? $"_k{s.Class}Embed!(t, d_ids, _d_{n.Operands[1]}!.View.BaseView, v_{n.Results[0]}, {gamma}, {beta}, v_{norm.Results[0]});"
            : $"_k{s.Class}Add!(t, v_{n.Operands[0]}, v_{n.Operands[1]}, v_{n.Results[0]}, {gamma}, {beta}, v_{n.Results[1]});");
    }

    /// <summary>The device kernels the plan launches (a shape's embed or add form, or both), so a session compiles only those.</summary>
    private static IEnumerable<(string Name, string Method, string[] Views)> DeviceKernels(KernelPlan plan) =>
        plan.Kernels.Where(IsNorm).Select(k => (Of(k, plan).Class, k.Nodes[0].Op == Ops.Embed)).Distinct()
            .Select(p => p.Item2 ? (p.Class + "Embed", $"{p.Class}.DeviceEmbed", EmbedViews) : (p.Class + "Add", $"{p.Class}.DeviceAdd", AddViews));

    public static void DeviceFields(SourceWriter w, KernelPlan plan)
    {
        foreach (var (name, _, views) in DeviceKernels(plan))
        {
            w.Line(NestedDeviceKernel.Field(name, views));
        }
    }

    public static void DeviceInit(SourceWriter w, KernelPlan plan, string model)
    {
        foreach (var (name, method, views) in DeviceKernels(plan))
        {
            w.Line(NestedDeviceKernel.Load(name, method, views, model));
        }
    }

    private static readonly string[] EmbedViews = new[] { "global::ILGPU.ArrayView<int>" }.Concat(Enumerable.Repeat(View, 5)).ToArray();
    private static readonly string[] AddViews = Enumerable.Repeat(View, 6).ToArray();

    public static void Classes(SourceWriter w, KernelPlan plan)
    {
        foreach (var s in Shapes(plan))
        {
            var layer = s.Layer;
            w.Line($"/// <summary>{(layer ? "LayerNorm ((x − μ) / sqrt(σ² + ε) · γ + β)" : "RMSNorm (x / sqrt(mean x² + ε) · γ)")} of rows of {s.Dim}, ε = {s.Eps}, fused with the embedding gather or the residual add.</summary>");
            w.Open($"private static class {s.Class}");
            w.Line($"private const int D = {s.Dim};");
            w.Line($"private const int Vocab = {s.Vocab};");
            w.Line($"private const float Eps = {s.Eps};");
            w.Line();
            w.Lines($@"/// <summary>Gathers each token's embedding row into the residual and writes its normalised copy; ids are checked against the vocabulary.</summary>
public static void Embed(global::System.ReadOnlySpan<int> ids, global::System.ReadOnlySpan<float> table, global::System.Span<float> residual, global::System.ReadOnlySpan<float> gamma, global::System.ReadOnlySpan<float> beta, global::System.Span<float> normed)
{{
    for (int t = 0; t < ids.Length; t++)
    {{
        int id = ids[t];
        if ((uint)id >= Vocab)
        {{
            throw new global::System.ArgumentOutOfRangeException(nameof(ids), $""token id {{id}} at position {{t}} is outside [0, {{Vocab}})"");
        }}

        table.Slice(id * D, D).CopyTo(residual.Slice(t * D, D));
        Row(residual.Slice(t * D, D), normed.Slice(t * D, D), gamma, beta);
    }}
}}

/// <summary>sum = residual + delta, and the next block reads norm(sum).</summary>
public static void Add(global::System.ReadOnlySpan<float> residual, global::System.ReadOnlySpan<float> delta, global::System.Span<float> sum, global::System.ReadOnlySpan<float> gamma, global::System.ReadOnlySpan<float> beta, global::System.Span<float> normed, int rows)
{{
    for (int t = 0; t < rows; t++)
    {{
        ref float r = ref {MM}.GetReference(residual.Slice(t * D, D));
        ref float x = ref {MM}.GetReference(delta.Slice(t * D, D));
        ref float o = ref {MM}.GetReference(sum.Slice(t * D, D));
        for (int d = 0; d < D; d += 8)
        {{
            {V}.StoreUnsafe({V}.LoadUnsafe(ref r, (nuint)d) + {V}.LoadUnsafe(ref x, (nuint)d), ref o, (nuint)d);
        }}

        Row(sum.Slice(t * D, D), normed.Slice(t * D, D), gamma, beta);
    }}
}}

private static void Row(global::System.ReadOnlySpan<float> row, global::System.Span<float> output, global::System.ReadOnlySpan<float> gamma, global::System.ReadOnlySpan<float> beta)
{{
    ref float x = ref {MM}.GetReference(row);
    ref float y = ref {MM}.GetReference(output);
    ref float g = ref {MM}.GetReference(gamma);
{(layer ? $@"    ref float b = ref {MM}.GetReference(beta);
    var total = {V}<float>.Zero;
    for (int d = 0; d < D; d += 8)
    {{
        total += {V}.LoadUnsafe(ref x, (nuint)d);
    }}

    var mean = {V}.Create({V}.Sum(total) / D);
" : "")}    var squares = {V}<float>.Zero;
    for (int d = 0; d < D; d += 8)
    {{
        var c = {V}.LoadUnsafe(ref x, (nuint)d){(layer ? " - mean" : "")};
        squares = {V}.FusedMultiplyAdd(c, c, squares);
    }}

    var scale = {V}.Create(1f / global::System.MathF.Sqrt(({V}.Sum(squares) / D) + Eps));
    for (int d = 0; d < D; d += 8)
    {{
{(layer
    ? $"        {V}.StoreUnsafe({V}.FusedMultiplyAdd(({V}.LoadUnsafe(ref x, (nuint)d) - mean) * scale, {V}.LoadUnsafe(ref g, (nuint)d), {V}.LoadUnsafe(ref b, (nuint)d)), ref y, (nuint)d);"
    : $"        {V}.StoreUnsafe({V}.LoadUnsafe(ref x, (nuint)d) * scale * {V}.LoadUnsafe(ref g, (nuint)d), ref y, (nuint)d);")}
    }}
}}

/// <summary>Embed + norm on an ILGPU accelerator, one thread per token (ids were checked on the host).</summary>
public static void DeviceEmbed(global::ILGPU.Index1D t, global::ILGPU.ArrayView<int> ids, {View} table, {View} residual, {View} gamma, {View} beta, {View} normed)
{{
    long from = (long)ids[t] * D;
    long to = (long)(int)t * D;
    for (int d = 0; d < D; d++)
    {{
        residual[to + d] = table[from + d];
    }}

    DeviceRow(residual, to, gamma, beta, normed);
}}

/// <summary>Add + norm on an ILGPU accelerator, one thread per token.</summary>
public static void DeviceAdd(global::ILGPU.Index1D t, {View} residual, {View} delta, {View} sum, {View} gamma, {View} beta, {View} normed)
{{
    long o = (long)(int)t * D;
    for (int d = 0; d < D; d++)
    {{
        sum[o + d] = residual[o + d] + delta[o + d];
    }}

    DeviceRow(sum, o, gamma, beta, normed);
}}

private static void DeviceRow({View} x, long o, {View} gamma, {View} beta, {View} normed)
{{
    float mean = 0f;
{(layer ? @"    for (int d = 0; d < D; d++)
    {
        mean += x[o + d];
    }

    mean /= D;
" : "")}    float squares = 0f;
    for (int d = 0; d < D; d++)
    {{
        float c = x[o + d] - mean;
        squares += c * c;
    }}

    float scale = 1f / global::ILGPU.Algorithms.XMath.Sqrt((squares / D) + Eps);
    for (int d = 0; d < D; d++)
    {{
        normed[o + d] = ((x[o + d] - mean) * scale * gamma[d]){(layer ? " + beta[d]" : "")};
    }}
}}");
            w.Close();
            w.Line();
        }
    }

    /// <summary>γ follows the rows (x, or residual and delta); β, when there is one, follows γ.</summary>
    private static int GammaAt(Node norm) => norm.Op is Ops.AddRmsNorm or Ops.AddLayerNorm ? 2 : 1;

    private static string? Beta(Node norm, string prefix, string? none) =>
        norm.Operands.Count > GammaAt(norm) + 1 ? prefix + norm.Operands[GammaAt(norm) + 1] : none;
}
