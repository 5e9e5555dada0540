using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Ir.Math;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// A model's dense feed-forward (<c>dense_ffn</c>) on both schedules: up GEMM + bias, the
/// activation rendered from the registry (a nested class per distinct activation and width, with
/// the native row method and the ILGPU kernel), down GEMM + bias. Sizes come from the plan's types.
/// </summary>
internal static class DenseFfnEmitter
{
    private sealed record Shape(ActivationDef Activation, int Dim, int Hidden, int HiddenIn)
    {
        public string Class => $"Dense{Activation.Kind}{Hidden}";
    }

    private static Shape Of(Node n, KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        var a = Activations.ByOp(n.Attr("activation")!);
        return new Shape(a, types[n.Operands[0]]!.Shape[1].Value, types[n.Operands[3]]!.Shape[0].Value, types[n.Operands[1]]!.Shape[1].Value);
    }

    private static IEnumerable<Shape> Shapes(KernelPlan plan) =>
        plan.Graph.Nodes.Where(n => n.Op == Ops.DenseFfn).Select(n => Of(n, plan)).Distinct();

    /// <summary>Workspace floats per token one dense call takes for its hidden rows (before and after the activation).</summary>
    public static long ScratchPerToken(Node n, KernelPlan plan)
    {
        var s = Of(n, plan);
        return s.HiddenIn + s.Hidden;
    }

    /// <summary>The nested classes: per shape, the native activation row and the device kernel with their formulas.</summary>
    public static void Classes(SourceWriter w, KernelPlan plan)
    {
        foreach (var s in Shapes(plan))
        {
            w.Line($"/// <summary>The dense feed-forward's {s.Activation.Op} over rows of {s.HiddenIn} into rows of {s.Hidden}, on both schedules.</summary>");
            w.Open($"private static class {s.Class}");
            w.Line($"public const int H = {s.Hidden};");
            w.Line($"public const int H1 = {s.HiddenIn};");
            w.Line("private static readonly bool Wide = global::System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;");
            w.Line();
            w.Lines(ActivationRowEmitter.Emit(s.Activation, "Row", "H", "Wide"));
            w.Line("/// <summary>a[r, c] = f(h[r, c]) (gated: f(h[r, c])·h[r, H + c]) for <paramref name=\"rows\"/> rows.</summary>");
            w.Open("public static void Native(global::System.Span<float> h, global::System.Span<float> a, int rows)");
            w.Line("for (int r = 0; r < rows; r++)");
            w.Line("{");
            w.Line("    Row(ref h[r * H1], ref a[r * H]);");
            w.Line("}");
            w.Close();
            w.Line();
            w.Line("/// <summary>The same on an ILGPU accelerator, one thread per output element.</summary>");
            w.Open("public static void Device(global::ILGPU.Index1D i, global::ILGPU.ArrayView<float> h, global::ILGPU.ArrayView<float> a)");
            w.Line("int r = i / H;");
            w.Line("int c = i - (r * H);");
            w.Line("float x = h[((long)r * H1) + c];");
            if (s.Activation.Gated)
            {
                w.Line("float u = h[((long)r * H1) + H + c];");
            }

            w.Line($"a[i] = {s.Activation.Render(MathDialect.Ilgpu, "x", "u")};");
            w.Close();
            w.Line();
            w.Lines(s.Activation.Declare(MathDialect.Ilgpu));

            w.Close();
            w.Line();
        }
    }

    /// <summary>Fields holding the loaded device kernels.</summary>
    public static void DeviceFields(SourceWriter w, KernelPlan plan)
    {
        foreach (var s in Shapes(plan))
        {
            w.Line(NestedDeviceKernel.Field(s.Class, 2));
        }
    }

    /// <summary>Loads each device kernel once per session (the key names the model class and the shape).</summary>
    public static void DeviceInit(SourceWriter w, KernelPlan plan, string model)
    {
        foreach (var s in Shapes(plan))
        {
            w.Line(NestedDeviceKernel.Load(s.Class, 2, model));
        }
    }

    public static void Native(SourceWriter w, Node n, KernelPlan plan)
    {
        var s = Of(n, plan);
        var r = n.Results[0];
        w.Line($"var h_{r} = ws.Take((long)t * {s.HiddenIn});");
        w.Line($"var a_{r} = ws.Take((long)t * {s.Hidden});");
        w.Line(ModelGemmEmitter.Call($"v_{n.Operands[0]}", "t", s.Dim, n.Operands[1], s.HiddenIn, $"_w_{n.Operands[2]}", $"h_{r}"));
        w.Line($"{s.Class}.Native(h_{r}, a_{r}, t);");
        w.Line(ModelGemmEmitter.Call($"a_{r}", "t", s.Hidden, n.Operands[3], s.Dim, $"_w_{n.Operands[4]}", $"v_{r}"));
    }

    public static void Device(SourceWriter w, Node n, KernelPlan plan)
    {
        var s = Of(n, plan);
        var r = n.Results[0];
        w.Line($"var h_{r} = scope.F32((long)t * {s.HiddenIn});");
        w.Line($"var a_{r} = scope.F32((long)t * {s.Hidden});");
        DeviceLinearEmitter.Linear(w, $"v_{n.Operands[0]}", "t", s.Dim, n.Operands[1], s.HiddenIn, $"h_{r}", n.Operands[2]);
        w.Line("if (t > 0)");
        w.Line("{");
        w.Line($"    _k{s.Class}!(t * {s.Hidden}, h_{r}, a_{r});");
        w.Line("}");
        DeviceLinearEmitter.Linear(w, $"a_{r}", "t", s.Hidden, n.Operands[3], s.Dim, $"v_{r}", n.Operands[4]);
    }
}
