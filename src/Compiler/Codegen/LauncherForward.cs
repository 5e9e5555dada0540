using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>The layer's Forward: binds buffers, runs the plan on the session's target, reads the statistics back once.</summary>
public static partial class LauncherEmitter
{
    private static void EmitForward(SourceWriter w, KernelPlan plan, IReadOnlyList<EmittedKernel> kernels, TrainingPlan training)
    {
        var expertChoice = plan.Graph.Nodes.Any(n => n.Op == Ops.ExpertChoice);
        var packed = new HashSet<string>(CpuKernelEmitter.PackedWeights(Readings(kernels)));
        var output = plan.Graph.Outputs[0];
        var hash = plan.Graph.Nodes.Any(n => n.Op == Ops.HashRoute);
        w.Line("/// <summary>");
        w.Line("/// Runs the layer on <paramref name=\"x\"/> [tokens, Dim]; any token count, including 0. One host");
        w.Line("/// synchronisation. A layer runs one call at a time: calls from several threads are serialised.");
        w.Line("/// </summary>");
        w.Open("public global::Wudao.MoeResult Forward(global::Wudao.DeviceTensor x)");
        if (hash)
        {
            w.Line("throw new global::System.InvalidOperationException($\"{Info.Name} routes by token id (hash routing): call Forward(x, tokenIds)\");");
        }
        else
        {
            w.Open("lock (_calls)");
            w.Line("return ForwardOne(x, default);");
            w.Close();
        }

        w.Close();
        w.Line();
        if (hash)
        {
            w.Line("/// <summary>Runs the layer on <paramref name=\"x\"/> [tokens, Dim]; token t goes to the expert its id <paramref name=\"tokenIds\"/>[t] hashes to.</summary>");
            w.Open("public global::Wudao.MoeResult Forward(global::Wudao.DeviceTensor x, global::System.ReadOnlySpan<int> tokenIds)");
            w.Open("lock (_calls)");
            w.Line("return ForwardOne(x, tokenIds);");
            w.Close();
            w.Close();
            w.Line();
        }

        w.Open("private global::Wudao.MoeResult ForwardOne(global::Wudao.DeviceTensor x, global::System.ReadOnlySpan<int> tokenIds)");
        w.Line($"int t = global::Wudao.MoeLayerRuntime.Tokens(x, Info);");
        w.Line("if (CheckFinite)");
        w.Line("{");
        w.Line("    global::Wudao.MoeLayerRuntime.RequireFinite(x, Info);");
        w.Line("}");
        w.Line("var args = new global::Wudao.LayerArgs(t, Kernels.Capacity(t), _seed, Step++, training: Training);");
        if (training.Backward != null)
        {
            // A training forward keeps its buffers as the tape until Backward; an older tape goes first.
            w.Line("ReleaseTape();");
            w.Line("bool keep = RequiresGrad && _cpu != null;");
        }

        w.Line("var scope = _session.Pool.BeginScope();");
        w.Open("try");
        w.Line("var meta = scope.I32(Kernels.MetaLength);");
        if (hash)
        {
            w.Line("var ids = global::Wudao.MoeLayerRuntime.UploadTokenIds(_session, scope, tokenIds, t, Info.Options.Vocab);");
        }

        foreach (var m in plan.Materialized.Where(m => m.Type.Shape.Any(d => d.IsSymbolic) && m.Value != output))
        {
            w.Line($"var v_{m.Value} = scope.{(m.Type.DType == DType.F32 ? "F32" : "I32")}({Length(m.Type, expertChoice)});");
        }

        w.Line($"var v_{output} = _session.Pool.RentTensor(t, Kernels.D);");
        w.Open("try");
        w.Open("if (t > 0 && _cpu != null)");
        foreach (var p in kernels.SelectMany(k => k.Parameters).GroupBy(CpuKernelEmitter.Field).Select(g => g.First()))
        {
            w.Line($"_cpu.{CpuKernelEmitter.Field(p)} = {Argument(p, output, packed)};");
        }

        w.Line("_cpu.scratch = scope.F32((long)_session.Workers!.Threads * CpuKernels.ScratchFloats);");
        EmitSaves(w, plan, training, expertChoice);
        if (NativeSchedule.For(plan).CombineWeightInEpilogue.Fuse)
        {
            // The backward reads the expert rows before the gate: a training forward keeps it in combine.
            w.Line(training.Backward != null ? "_cpu.rowsScaled = !keep;" : "_cpu.rowsScaled = true;");
            w.Line("_cpu.rowgates = scope.F32((long)t * Kernels.K);");
        }

        w.Line("_cpu.Launch(_session.Workers, t);");
        if (training.Backward != null)
        {
            w.Line("_cpu.saving = false;");
        }

        w.Close();
        w.Open("else if (t > 0)");
        foreach (var k in kernels)
        {
            var launch = k.Space switch
            {
                IterationSpace.TokenScan => "new global::ILGPU.KernelConfig(1, _group)",
                IterationSpace.ExpertRows => "new global::ILGPU.KernelConfig(((t * Kernels.K) + Kernels.TM - 1) / Kernels.TM + Kernels.E, _group)",
                IterationSpace.Choices => "t * Kernels.K * Kernels.D",
                IterationSpace.TokenGather => "t * Kernels.D",
                _ => "t",
            };
            var args = string.Join(", ", k.Parameters.Select(p => Argument(p, output, packed)));
            w.Line($"_k{k.Index}({launch}, {args});");
        }

        w.Close();
        w.Line("var stats = scope.ReadBack(meta, ran: t > 0);");
        w.Line($"var result = new global::Wudao.MoeResult(v_{output}, ReadStats(stats, t, args.Capacity));");
        EmitTape(w, plan, training, expertChoice);
        w.Line("return result;");
        w.Close();
        w.Open("catch");
        w.Line("// The output never reaches the caller: give its memory back.");
        w.Line($"v_{output}.Dispose();");
        w.Line("throw;");
        w.Close();
        w.Close();
        w.Open("finally");
        w.Line(training.Backward != null ? "if (!_taped) scope.Dispose();" : "scope.Dispose();");
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>The statistics of a call from its meta block: kept rows per routed expert, drops, losses and non-finite tokens.</summary>");
        w.Open("private static global::Wudao.MoeStats ReadStats(global::System.ReadOnlySpan<int> stats, int tokens, int capacity)");
        // Graph outputs after the layer output are the statistics: kept per expert, dropped, then
        // named losses, and the non-finite token count. Only the routed experts are reported
        // (shared ones see every token).
        var (kept, dropped) = (Meta(plan.Graph.Outputs[1]), Meta(plan.Graph.Outputs[2]));
        w.Line("var kept = new int[Kernels.ER];");
        w.Line($"stats.Slice(Kernels.{kept}, Kernels.ER).CopyTo(kept);");
        var nonFinite = plan.Graph.Nodes.FirstOrDefault(n => n.Op == Ops.NonFinite)?.Results[0];
        var losses = plan.Graph.Outputs.Skip(3).Where(o => o != nonFinite).ToList();
        var bad = nonFinite != null ? $", nonFinite: stats[Kernels.{Meta(nonFinite)}]" : "";
        string Loss(string o) => $"global::System.BitConverter.Int32BitsToSingle(stats[Kernels.{Meta(o)}])";
        if (losses.Count > 0 && losses[0] == "aux")
        {
            // The softmax routers: the balance loss as a field, a dictionary only for extra losses.
            var extra = losses.Skip(1).Select(o => $"[\"{LossName(o)}\"] = {Loss(o)}").ToList();
            var others = extra.Count == 0 ? "" : $", new global::System.Collections.Generic.Dictionary<string, float> {{ {string.Join(", ", extra)} }}";
            w.Line($"return new global::Wudao.MoeStats(tokens, capacity, kept, stats[Kernels.{dropped}], {Loss("aux")}{others}{bad});");
        }
        else
        {
            var all = string.Join(", ", losses.Select(o => $"[\"{LossName(o)}\"] = {Loss(o)}"));
            w.Line($"return new global::Wudao.MoeStats(tokens, capacity, kept, stats[Kernels.{dropped}], new global::System.Collections.Generic.Dictionary<string, float> {{ {all} }}{bad});");
        }

        w.Close();
        w.Line();
        w.Open("public void Dispose()");
        if (training.Backward != null)
        {
            w.Line("ReleaseTape();");
        }

        foreach (var b in plan.Weights)
        {
            w.Line($"_w_{b.Value}{(packed.Contains(b.Value) ? "?" : "")}.Dispose();");
        }

        w.Close();
    }

    /// <summary>What the launcher passes for a kernel parameter (on either target).</summary>
    private static string Argument(KernelParam p, string output, ICollection<string> packed) => p.Kind switch
    {
        BindingKind.Input => InputView(p.Value),
        BindingKind.Weight => WeightView(p.Value, packed),
        BindingKind.Meta => "meta",
        BindingKind.Partials => "meta.SubView(Kernels.PartialsAt, Kernels.PartialsLength)",
        BindingKind.Args => "args",
        _ => p.Value == output ? $"v_{p.Value}.View" : $"v_{p.Value}",
    };

    private static string Meta(string value) => KernelReading.Meta(value);

    private static IReadOnlyList<KernelReading> Readings(IReadOnlyList<EmittedKernel> kernels) => kernels.Select(k => k.Reading).ToList();

    private static string OffsetsOf(EmittedKernel k) => k.Reading switch
    {
        DispatchKernel d => d.Offsets,
        ExpertKernel x => x.Offsets,
        CombineKernel c => c.Offsets,
        _ => throw new CompileException($"k{k.Index} {k.Role} reads no row offsets"),
    };

    /// <summary>A weight's device view; a packed one (absent on the native target, which reads its panels) is an empty view there.</summary>
    private static string WeightView(string value, ICollection<string> packed) =>
        packed.Contains(value) ? $"(_w_{value}?.View ?? default)" : $"_w_{value}.View";

    private static string LossName(string value) => value switch
    {
        "zloss" => "router_z",
        "aux" => "load_balance",
        _ => value,
    };

    private static string DelegateType(EmittedKernel k)
    {
        var first = k.Grouped ? "global::ILGPU.KernelConfig" : "global::ILGPU.Index1D";
        return $"global::System.Action<{first}, {string.Join(", ", k.Parameters.Select(p => p.CsType))}>";
    }

    /// <summary>
    /// Element count of a materialized value at launch: T is the token count, S (kept rows) is
    /// bounded by T·k — by E·C under expert choice, where every expert keeps exactly C rows.
    /// </summary>
    private static string Length(TensorType type, bool expertChoice = false) => Elements(type, "(long)t", $"(long){RowBound(expertChoice)}");

    /// <summary>The bound on kept rows S at launch: T·k, or E·C under expert choice.</summary>
    private static string RowBound(bool expertChoice) => expertChoice ? "args.Capacity * Kernels.E" : "t * Kernels.K";

    /// <summary>A type's element count as a C# expression, T and S given by <paramref name="tokens"/> and <paramref name="rows"/>.</summary>
    internal static string Elements(TensorType type, string tokens, string rows) => string.Join(" * ", type.Shape.Select(d => d.Symbol switch
    {
        "T" => tokens,
        "S" => rows,
        null => d.Value.ToString(CultureInfo.InvariantCulture),
        _ => throw new CompileException($"no launch bound for dimension {d.Symbol}"),
    }));

    /// <summary>The launcher's view of a forward input: the token rows, or an uploaded input by its name (token ids).</summary>
    private static string InputView(string value) => value == "x" ? "x.View" : value;
}
