using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>The expert-parallel runner's stages, one planned kernel each, and DeepSeek's bias update.</summary>
public static partial class LauncherEmitter
{
    /// <summary>
    /// The stages of <c>IMoeStages</c>: one planned kernel each, on the caller's buffers. The
    /// interface's parameter names are the kernel templates' parameter names.
    /// </summary>
    private static void EmitStages(SourceWriter w, KernelPlan plan, IReadOnlyList<EmittedKernel> kernels)
    {
        var packed = new HashSet<string>(CpuKernelEmitter.PackedWeights(Readings(kernels)));
        var ffn = kernels.First(k => k.Space == IterationSpace.ExpertRows);
        w.Line();
        w.Line("global::Wudao.Session global::Wudao.IMoeStages.Session => _session;");
        w.Line();
        w.Line("global::Wudao.CounterSeed global::Wudao.IMoeStages.RoutingSeed => _seed;");
        w.Line();
        w.Line("int global::Wudao.IMoeStages.MetaLength => Kernels.MetaLength;");
        w.Line();
        w.Line($"int global::Wudao.IMoeStages.MetaOffsetsAt => Kernels.{((ExpertKernel)ffn.Reading).Offsets};");
        w.Line();
        w.Line("int global::Wudao.IMoeStages.PartialsAt => Kernels.PartialsAt;");
        w.Line();
        w.Line("int global::Wudao.IMoeStages.PartialsLength => Kernels.PartialsLength;");
        w.Line();
        w.Line("global::Wudao.MoeStats global::Wudao.IMoeStages.Statistics(global::System.ReadOnlySpan<int> meta, int tokens, int capacity) => ReadStats(meta, tokens, capacity);");
        w.Line();
        w.Line("int global::Wudao.IMoeStages.Capacity(int tokens) => Kernels.Capacity(tokens);");
        const string F = "global::ILGPU.ArrayView<float>";
        const string I = "global::ILGPU.ArrayView<int>";
        const string A = "global::Wudao.LayerArgs";
        var stages = new (IterationSpace Space, string Stage, (string Type, string Name)[] Parameters)[]
        {
            (IterationSpace.TokenRows, "Gate", new[] { (F, "x"), (I, "ids"), (F, "probs"), (I, "experts"), (F, "gates"), (F, "lse"), (F, "pload"), (A, "args") }),
            (IterationSpace.TokenScan, "Route", new[] { (F, "x"), (F, "probs"), (I, "experts"), (F, "gates"), (F, "lse"), (F, "pload"), (I, "slots"), (I, "meta"), (I, "gathered"), (A, "args") }),
            (IterationSpace.Choices, "Dispatch", new[] { (F, "x"), (I, "experts"), (I, "slots"), (I, "meta"), (F, "rows"), (A, "args") }),
            (IterationSpace.ExpertRows, "Experts", new[] { (F, "rows"), (I, "meta"), (F, "y"), ("int", "rowBound") }),
            (IterationSpace.TokenGather, "Combine", new[] { (F, "y"), (I, "experts"), (F, "gates"), (I, "slots"), (I, "meta"), (F, "output"), (A, "args") }),
        };
        foreach (var (space, stage, parameters) in stages)
        {
            var signature = $"{stage}({string.Join(", ", parameters.Select(p => $"{p.Type} {p.Name}"))})";
            var named = new HashSet<string>(parameters.Select(p => p.Name));
            var k = kernels.First(x => x.Space == space);
            string Arg(KernelParam p) => p.Kind == BindingKind.Weight ? WeightView(p.Value, packed) : p.Name;
            var expert = space == IterationSpace.ExpertRows;
            w.Line();
            w.Open($"void global::Wudao.IMoeStages.{signature}");
            w.Open("lock (_calls)");
            // The route runs at 0 tokens too: a rank without tokens still has partials and a send layout.
            if (space != IterationSpace.TokenScan)
            {
                w.Line(expert ? "if (rowBound <= 0)" : "if (args.Tokens <= 0)");
                w.Line("{");
                w.Line("    return;");
                w.Line("}");
                w.Line();
            }

            // Outputs a stage's caller does not ask for go to scratch.
            var extras = k.Parameters.Where(p => p.Kind == BindingKind.Buffer && !named.Contains(p.Name)).ToList();
            if (extras.Count > 0)
            {
                w.Line("using var extra = _session.Pool.BeginScope();");
                foreach (var p in extras)
                {
                    var type = plan.Materialized.First(m => m.Value == p.Value).Type;
                    w.Line($"var {p.Name} = extra.{(type.DType == DType.F32 ? "F32" : "I32")}({Length(type).Replace("(long)t", "(long)args.Tokens")});");
                }
            }

            // Kernels trust their indices: check what the caller handed in first.
            var t = expert ? "(long)rowBound" : "(long)args.Tokens";
            foreach (var p in k.Parameters.Where(p => named.Contains(p.Name)))
            {
                var need = p.Name switch
                {
                    "x" or "output" => $"{t} * Kernels.D",
                    "probs" => $"{t} * Kernels.E",
                    "lse" or "ids" => t,
                    "pload" => $"{t} * Kernels.E",
                    "gathered" => "(long)args.Ranks * Kernels.PartialsLength",
                    "experts" or "gates" or "slots" => $"{t} * Kernels.K",
                    "meta" => "Kernels.MetaLength",
                    "rows" or "y" when expert => $"{t} * Kernels.D",
                    _ => null,
                };
                if (need != null)
                {
                    w.Line($"global::Wudao.MoeLayerRuntime.Require({p.Name}.Length, {need}, \"{stage}\", \"{p.Name}\");");
                }
            }

            w.Open("if (_cpu != null)");
            var rowsView = space switch { IterationSpace.Choices => "rows", IterationSpace.TokenGather => "y", _ => expert ? "rows" : null };
            if (rowsView != null)
            {
                var bound = expert ? "rowBound" : $"{rowsView}.Length / Kernels.D";
                w.Line($"global::Wudao.MoeLayerRuntime.RequireOffsets(meta, Kernels.{OffsetsOf(k)}, Kernels.E, {bound}, \"{stage}\");");
            }

            foreach (var p in k.Parameters)
            {
                w.Line($"_cpu.{CpuKernelEmitter.Field(p)} = {Arg(p)};");
            }

            w.Line("_cpu.rowsScaled = false;");
            if (expert || space == IterationSpace.TokenRows)
            {
                // Expert tiles and per-token router bodies work in the workers' scratch rows.
                w.Line("using var scope = _session.Pool.BeginScope();");
                w.Line("_cpu.scratch = scope.F32((long)_session.Workers!.Threads * CpuKernels.ScratchFloats);");
            }

            if (expert)
            {
                w.Line($"_session.Workers!.For(_cpu, {k.Index}, CpuKernels.CountTiles(ref global::Wudao.CpuMemory.Ref(meta), Kernels.{OffsetsOf(k)}));");
            }
            else if (space == IterationSpace.TokenScan)
            {
                w.Line("_cpu.args = args;");
                w.Line($"_cpu.{k.Method}(0, 0);");
            }
            else
            {
                w.Line("_cpu.args = args;");
                w.Line($"_session.Workers!.For(_cpu, {k.Index}, (args.Tokens + CpuKernels.TokenChunk - 1) / CpuKernels.TokenChunk);");
            }

            w.Close();
            w.Open("else");
            var launch = space switch
            {
                IterationSpace.TokenRows => "args.Tokens",
                IterationSpace.TokenScan => "new global::ILGPU.KernelConfig(1, _group)",
                IterationSpace.Choices => "args.Tokens * Kernels.K * Kernels.D",
                IterationSpace.ExpertRows => "new global::ILGPU.KernelConfig(((rowBound + Kernels.TM - 1) / Kernels.TM) + Kernels.E, _group)",
                _ => "args.Tokens * Kernels.D",
            };
            w.Line($"_k{k.Index}({launch}, {string.Join(", ", k.Parameters.Select(Arg))});");
            w.Close();
            w.Close();
            w.Close();
        }
    }

    /// <summary>DeepSeek's aux-loss-free balancing: the bias of <paramref name="biased"/> moves against each expert's excess load, at the op's rate.</summary>
    private static void EmitBiasUpdate(SourceWriter w, Node biased)
    {
        var rate = biased.Attr("rate") != null ? CSharpNames.Float(biased.FloatAttr("rate")) : "0f";
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// Aux-loss-free balancing (DeepSeek-V3), called after a step: b_i ← b_i − γ·sign(load_i − mean load),");
        w.Line("/// load = the tokens each routed expert processed in <paramref name=\"stats\"/> (with a capacity factor,");
        w.Line("/// after capacity; DeepSeek-V3 is dropless, where the two agree). Updates the device bias and <see cref=\"Weights\"/>.");
        w.Line("/// </summary>");
        w.Open("public void UpdateBalanceBias(global::Wudao.MoeStats stats)");
        w.Open("lock (_calls)");
        w.Line("global::System.ArgumentNullException.ThrowIfNull(stats);");
        w.Line("var bias = Weights[\"gate.bias\"].Data;");
        w.Open("if (stats.TokensPerExpert.Count != bias.Length)");
        w.Line("throw new global::System.ArgumentException($\"the statistics count {stats.TokensPerExpert.Count} experts but the bias has {bias.Length}\", nameof(stats));");
        w.Close();
        w.Line();
        w.Line("double mean = 0;");
        w.Open("for (int i = 0; i < bias.Length; i++)");
        w.Line("mean += stats.TokensPerExpert[i];");
        w.Close();
        w.Line();
        w.Line("mean /= bias.Length;");
        w.Open("for (int i = 0; i < bias.Length; i++)");
        w.Line($"bias[i] -= {rate} * global::System.Math.Sign(stats.TokensPerExpert[i] - mean);");
        w.Close();
        w.Line();
        w.Line("global::ILGPU.Runtime.ArrayViewExtensions.CopyFromCPU(_w_bias.View.BaseView, _session.Accelerator.DefaultStream, bias);");
        w.Close();
        w.Close();
    }
}
