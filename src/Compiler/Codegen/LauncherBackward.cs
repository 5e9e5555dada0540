using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The layer's training members: <c>RequiresGrad</c> (a Forward keeps what the backward reads, its
/// "tape"), <c>Backward</c> (runs the backward plan's native kernels: returns dL/dx and adds the
/// weights' gradients into <c>Gradients</c>) and <c>ZeroGradients</c>.
/// </summary>
public static partial class LauncherEmitter
{
    private static void EmitTrainingFields(SourceWriter w, TrainingPlan training)
    {
        if (training.Backward == null)
        {
            return;
        }

        w.Line("private readonly CpuBackward? _backward;");
        w.Line("// The tape: the buffers of the last Forward made with RequiresGrad, held until Backward.");
        w.Line("private global::Wudao.ForwardScope _tape;");
        w.Line("private bool _taped;");
        w.Line("private int _tapeTokens;");
        w.Line("private int _tapeRows;");
    }

    /// <summary>Binds the backward's weights and gradient arrays, in the constructor's native branch.</summary>
    private static void EmitTrainingConstructor(SourceWriter w, TrainingPlan training)
    {
        if (training.Backward is not { } backward)
        {
            return;
        }

        var f = new BackwardFrame(backward);
        var names = backward.Forward.Nodes.Where(n => n.Op == Ops.Param).ToDictionary(n => n.Results[0], n => n.Attr("name")!);
        w.Line("_backward = new CpuBackward();");
        foreach (var p in backward.Graph.Nodes.Where(n => n.Op == Ops.Param))
        {
            w.Line($"_backward.{f.Field(p.Results[0])} = weights[\"{names[p.Results[0]]}\"].Data;");
        }

        foreach (var g in backward.Gradients.Where(g => names.ContainsKey(g.Key)))
        {
            w.Line($"_backward.{f.Field(g.Value)} = Gradients[\"{names[g.Key]}\"].Data;");
        }

        foreach (var t in f.TransposedWeights)
        {
            w.Line($"_backward.{BackwardFrame.Transposed(t)} = {PackTransposed(f, t, names[t], "weights", into: "")};");
        }
    }

    /// <summary>The call packing an expert weight's transposes for the backward's dX GEMM: at creation, and again (into the same array) whenever the weights change.</summary>
    private static string PackTransposed(BackwardFrame f, string weight, string name, string weights, string into)
    {
        var shape = f.Type(weight).Shape;
        return $"CpuBackward.PackTransposed({weights}[\"{name}\"].Data, {shape[0].Value}, {shape[1].Value}, {shape[2].Value}{into})";
    }

    private static void EmitTrainingMembers(SourceWriter w, KernelPlan plan, IReadOnlyList<EmittedKernel> kernels, TrainingPlan training)
    {
        var packed = new HashSet<string>(CpuKernelEmitter.PackedWeights(Readings(kernels)));
        var noGradient = training.Backward == null ? new List<string>() : training.Backward.NoGradient.Select(v => plan.Weights.First(b => b.Value == v).Name).ToList();
        w.Line("/// <summary>The optimizer's update rules, compiled with this layer.</summary>");
        w.Line("public global::Wudao.IOptimizerKernels OptimizerKernels => OptimizerKernelSet.Instance;");
        w.Line();
        w.Line("/// <summary>Weights no gradient reaches; an optimizer leaves them alone.</summary>");
        w.Line($"public global::System.Collections.Generic.IReadOnlyCollection<string> NoGradient {{ get; }} = new string[] {{ {string.Join(", ", noGradient.Select(n => "\"" + n + "\""))} }};");
        w.Line();
        w.Line("/// <summary>Copies <see cref=\"Weights\"/> again into what the kernels read (device tensors, packed GEMM panels) after they changed.</summary>");
        w.Open("public void WeightsChanged()");
        w.Open("lock (_calls)");
        foreach (var b in plan.Weights)
        {
            w.Line($"_w_{b.Value}{(packed.Contains(b.Value) ? "?" : "")}.CopyFrom(Weights[\"{b.Name}\"].Data);");
        }

        w.Open("if (_cpu != null)");
        w.Line("var cpu = _cpu;");
        w.Line("// Each packing is a pass over one weight: they run side by side, into the arrays they fill already.");
        w.Line("global::System.Threading.Tasks.Parallel.Invoke(");
        var packs = packed.Select(value =>
        {
            var shape = plan.Weights.First(b => b.Value == value).Type.Shape;
            return $"() => CpuKernels.PackInto(Weights[\"{plan.Weights.First(b => b.Value == value).Name}\"].Data, {shape[0].Value}, {shape[1].Value}, {shape[2].Value}, cpu.p_{value})";
        }).ToList();
        if (training.Backward != null)
        {
            var frame = new BackwardFrame(training.Backward);
            var names = plan.Weights.ToDictionary(b => b.Value, b => b.Name);
            packs.AddRange(frame.TransposedWeights.Select(t => "() => " + PackTransposed(frame, t, names[t], "Weights", $", _backward!.{BackwardFrame.Transposed(t)}")));
        }

        w.Lines(string.Join(",\n", packs.Select(p => "    " + p)) + ");");
        w.Close();
        w.Close();
        w.Close();
        w.Line();
        OptimizerEmitter.Emit(w);
        w.Line();
        w.Line("/// <summary>The gradient of the loss with respect to each weight, by weight name, added to by every Backward; see <see cref=\"ZeroGradients\"/>.</summary>");
        w.Line("public global::Wudao.MoeWeights Gradients { get; } = global::Wudao.MoeWeights.Zeros(Info.Weights);");
        w.Line();
        w.Line("/// <summary>Sets every gradient to zero (before a new accumulation of micro-batches).</summary>");
        w.Line("public void ZeroGradients() => Gradients.Clear();");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// True: each Forward also keeps what <see cref=\"Backward\"/> reads (its buffers and x, which must");
        w.Line("/// not change until then), until Backward or the next Forward. False (default): inference.");
        w.Line("/// </summary>");
        if (training.Backward == null)
        {
            var refuse = $"throw new global::System.NotSupportedException($\"{{Info.Name}} cannot train yet: \" + {CSharpNames.Verbatim(training.Refusal!)})";
            w.Open("public bool RequiresGrad");
            w.Line("get => false;");
            w.Line($"set => {refuse};");
            w.Close();
            w.Line();
            w.Line("/// <summary>Not available for this layer yet; the message says why.</summary>");
            w.Line($"public global::Wudao.DeviceTensor Backward(global::Wudao.DeviceTensor dOutput, float auxLossWeight = 1f) => {refuse};");
            w.Line();
            return;
        }

        var backward = training.Backward;
        var f = new BackwardFrame(backward);
        var dx = backward.Gradients[backward.Forward.Inputs[0].Key];
        w.Line("public bool RequiresGrad { get; set; }");
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Backpropagates the last Forward (made with <see cref=\"RequiresGrad\"/>): given dL/d output");
        w.Line("/// [tokens, Dim], returns dL/dx and adds each weight's gradient into <see cref=\"Gradients\"/>. The layer's");
        w.Line("/// auxiliary losses are part of L with weight <paramref name=\"auxLossWeight\"/> (1: as declared; 0: they do not");
        w.Line("/// train the router). Routing choices and dropped tokens carry no gradient. Runs on the native CPU target.");
        w.Line("/// </summary>");
        w.Open("public global::Wudao.DeviceTensor Backward(global::Wudao.DeviceTensor dOutput, float auxLossWeight = 1f)");
        w.Open("lock (_calls)");
        w.Line("if (_backward == null) throw new global::System.NotSupportedException($\"{Info.Name}.Backward runs on the native CPU target (a session with CPU workers); this session runs {_session.Accelerator.AcceleratorType} kernels through ILGPU\");");
        w.Line("if (!_taped) throw new global::System.InvalidOperationException($\"{Info.Name}.Backward needs a Forward made with RequiresGrad = true first; each such Forward is backpropagated once\");");
        w.Open("try");
        w.Line("int t = _tapeTokens;");
        w.Line("global::Wudao.MoeLayerRuntime.RequireCotangent(dOutput, t, Info);");
        w.Line("var dx = _session.Pool.RentTensor(t, Kernels.D);");
        w.Open("try");
        w.Open("if (t > 0)");
        w.Line("_backward.tokens = t;");
        w.Line("_backward.rowBound = _tapeRows;");
        foreach (var seed in backward.Seeds)
        {
            w.Line(f.IsScalar(seed) ? $"_backward.{f.Field(seed)} = auxLossWeight;" : $"_backward.{f.Field(seed)} = dOutput.View;");
        }

        w.Line($"_backward.{f.Field(dx)} = dx.View;");
        w.Line("using var scope = _session.Pool.BeginScope();");
        w.Line("_backward.Rent(scope, _session.Workers!.Threads);");
        w.Line("_backward.Launch(_session.Workers!);");
        w.Close();
        w.Line("return dx;");
        w.Close();
        w.Open("catch");
        w.Line("dx.Dispose();");
        w.Line("throw;");
        w.Close();
        w.Close();
        w.Open("finally");
        w.Line("ReleaseTape();");
        w.Close();
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>The native backward kernels with their cumulative times, when the session runs the native target; else null.</summary>");
        w.Line("public global::Wudao.CpuKernelSet? NativeBackwardKernels => _backward;");
        w.Line();
        w.Open("private void ReleaseTape()");
        w.Open("if (_taped)");
        w.Line("_taped = false;");
        w.Line("_tape.Dispose();");
        w.Close();
        w.Close();
        w.Line();
    }

    /// <summary>In a training Forward, after the kernels ran: binds what the backward reads and keeps the call's buffers as the tape.</summary>
    private static void EmitTape(SourceWriter w, KernelPlan plan, TrainingPlan training, bool expertChoice)
    {
        if (training.Backward is not { } backward)
        {
            return;
        }

        var f = new BackwardFrame(backward);
        var inputs = new HashSet<string>(plan.Graph.Inputs.Select(i => i.Key));
        var fixedSize = new HashSet<string>(plan.Materialized.Where(m => m.Type.Shape.All(d => !d.IsSymbolic)).Select(m => m.Value));
        w.Open("if (keep)");
        foreach (var v in backward.Saved)
        {
            var source = inputs.Contains(v) ? InputView(v)
                : training.Saves.Contains(v) ? $"_cpu!.{KernelReading.SaveBuffer(v)}"
                : fixedSize.Contains(v) ? $"meta.SubView(Kernels.{KernelReading.Meta(v)}, {f.Length(v)})"
                : $"v_{v}";
            w.Line($"_backward!.{f.Field(v)} = {source};");
        }

        w.Line("_tape = scope;");
        w.Line("_taped = true;");
        w.Line("_tapeTokens = t;");
        w.Line($"_tapeRows = {RowBound(expertChoice)};");
        w.Close();
    }

    /// <summary>The training forward's save buffers, rented in the call's scope (empty views when not training).</summary>
    private static void EmitSaves(SourceWriter w, KernelPlan plan, TrainingPlan training, bool expertChoice)
    {
        if (training.Backward == null)
        {
            return;
        }

        var types = plan.Graph.ValueTypes();
        w.Line("_cpu.saving = keep;");
        foreach (var v in training.Saves)
        {
            var type = types[v]!;
            w.Line($"_cpu.{KernelReading.SaveBuffer(v)} = keep ? scope.{(type.DType == DType.F32 ? "F32" : "I32")}({Length(type, expertChoice)}) : default;");
        }
    }
}
