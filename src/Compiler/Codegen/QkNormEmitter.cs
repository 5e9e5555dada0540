using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// <c>qk_norm</c> on both schedules: each query and key head of the fused qkv rows divided by its
/// RMS and scaled by its γ (one per block for queries, one for keys), the value heads copied; a
/// nested class with the native rows and the ILGPU kernel, sizes and ε from the op's attributes.
/// </summary>
internal static class QkNormEmitter
{
    private sealed record Shape(int Heads, int KvHeads, int HeadDim, string Eps)
    {
        public string Class => $"QkNorm{Heads}x{KvHeads}x{HeadDim}";

        /// <summary>Heads of one row: queries, keys, values.</summary>
        public int All => Heads + (2 * KvHeads);
    }

    private static Shape Of(Node n, KernelPlan plan)
    {
        int heads = n.IntAttr("heads"), kv = n.IntAttr("kv_heads");
        var width = plan.Graph.ValueTypes()[n.Operands[0]]!.Shape[1].Value;
        return new Shape(heads, kv, width / (heads + (2 * kv)), CSharpNames.Float(n.FloatAttr("eps")));
    }

    private static Shape[] Shapes(KernelPlan plan) => plan.Graph.Nodes.Where(n => n.Op == Ops.QkNorm).Select(n => Of(n, plan)).Distinct().ToArray();

    public static void Classes(SourceWriter w, KernelPlan plan)
    {
        foreach (var s in Shapes(plan))
        {
            var hd = s.HeadDim.ToString(CultureInfo.InvariantCulture);
            w.Line($"/// <summary>qk_norm over rows of {s.Heads} query, {s.KvHeads} key and {s.KvHeads} value heads of {s.HeadDim}, on both schedules.</summary>");
            w.Open($"private static class {s.Class}");
            w.Line($"public const int Heads = {s.Heads};");
            w.Line($"public const int Normed = {s.Heads + s.KvHeads};");
            w.Line($"public const int All = {s.All};");
            w.Line($"public const int HD = {hd};");
            w.Line($"public const float Eps = {s.Eps};");
            w.Line();
            w.Line("/// <summary>y = x with each query and key head h of each row as γ·h / sqrt(mean(h²) + ε).</summary>");
            w.Open("public static void Native(global::System.ReadOnlySpan<float> x, global::System.Span<float> y, global::System.ReadOnlySpan<float> gq, global::System.ReadOnlySpan<float> gk, int rows)");
            w.Line("x.Slice(0, rows * All * HD).CopyTo(y);");
            w.Line("for (int i = 0; i < rows * All; i++)");
            w.Line("{");
            w.Line("    int h = i % All;");
            w.Line("    if (h >= Normed)");
            w.Line("    {");
            w.Line("        continue;");
            w.Line("    }");
            w.Line();
            w.Line("    var head = y.Slice(i * HD, HD);");
            w.Line("    var g = h < Heads ? gq : gk;");
            w.Line("    float ss = 0f;");
            w.Line("    for (int d = 0; d < HD; d++)");
            w.Line("    {");
            w.Line("        ss += head[d] * head[d];");
            w.Line("    }");
            w.Line();
            w.Line("    float scale = 1f / global::System.MathF.Sqrt((ss / HD) + Eps);");
            w.Line("    for (int d = 0; d < HD; d++)");
            w.Line("    {");
            w.Line("        head[d] = head[d] * scale * g[d];");
            w.Line("    }");
            w.Line("}");
            w.Close();
            w.Line();
            w.Line("/// <summary>The same on an ILGPU accelerator, one thread per head of a row.</summary>");
            w.Open("public static void Device(global::ILGPU.Index1D i, global::ILGPU.ArrayView<float> x, global::ILGPU.ArrayView<float> y, global::ILGPU.ArrayView<float> gq, global::ILGPU.ArrayView<float> gk)");
            w.Line("int h = i % All;");
            w.Line("long o = (long)(int)i * HD;");
            w.Line("float scale = 1f;");
            w.Line("if (h < Normed)");
            w.Line("{");
            w.Line("    float ss = 0f;");
            w.Line("    for (int d = 0; d < HD; d++)");
            w.Line("    {");
            w.Line("        ss += x[o + d] * x[o + d];");
            w.Line("    }");
            w.Line();
            w.Line("    scale = 1f / global::ILGPU.Algorithms.XMath.Sqrt((ss / HD) + Eps);");
            w.Line("}");
            w.Line();
            w.Line("for (int d = 0; d < HD; d++)");
            w.Line("{");
            w.Line("    y[o + d] = h >= Normed ? x[o + d] : x[o + d] * scale * (h < Heads ? gq[d] : gk[d]);");
            w.Line("}");
            w.Close();
            w.Close();
            w.Line();
        }
    }

    public static void Native(SourceWriter w, Node n, KernelPlan plan) =>
        w.Line($"{Of(n, plan).Class}.Native(v_{n.Operands[0]}, v_{n.Results[0]}, _w_{n.Operands[1]}, _w_{n.Operands[2]}, t);");

    public static void DeviceFields(SourceWriter w, KernelPlan plan)
    {
        foreach (var s in Shapes(plan))
        {
            w.Line(NestedDeviceKernel.Field(s.Class, 4));
        }
    }

    public static void DeviceInit(SourceWriter w, KernelPlan plan, string model)
    {
        foreach (var s in Shapes(plan))
        {
            w.Line(NestedDeviceKernel.Load(s.Class, 4, model));
        }
    }

    public static void Device(SourceWriter w, Node n, KernelPlan plan)
    {
        var s = Of(n, plan);
        w.Line("if (t > 0)");
        w.Line("{");
        w.Line($"    _k{s.Class}!(t * {s.All}, v_{n.Operands[0]}, v_{n.Results[0]}, _d_{n.Operands[1]}!.View.BaseView, _d_{n.Operands[2]}!.View.BaseView);");
        w.Line("}");
    }
}
