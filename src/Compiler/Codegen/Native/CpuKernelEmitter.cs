using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native target of the same plan: each kernel reading (the same ops and bindings the ILGPU
/// target assembles from) becomes a method of a <c>CpuKernels</c> class that runs natively, vectorised with
/// Vector512/Vector256 and split into work items over the session's CPU threads. Shapes are
/// compile-time constants here too. The generated code needs no <c>unsafe</c>: buffers are
/// reached through refs.
/// </summary>
public static class CpuKernelEmitter
{
    /// <summary>Field of the kernel set bound to a parameter.</summary>
    public static string Field(KernelParam p) => p.Kind switch
    {
        BindingKind.Input => "in_" + p.Value,
        BindingKind.Weight => "w_" + p.Value,
        BindingKind.Buffer => "v_" + p.Value,
        BindingKind.Meta => "meta",
        BindingKind.Partials => "gathered",
        _ => "args",
    };

    /// <summary>The buffers a training forward writes for backward, beyond the plan's own.</summary>
    public static IEnumerable<KernelParam> Saves(IReadOnlyList<KernelReading> kernels) =>
        kernels.OfType<GateKernel>().SelectMany(g => g.Saves)
            .Concat(kernels.OfType<ExpertKernel>().Where(x => x.SavedHidden != null).Select(x => new KernelParam(BindingKind.Buffer, x.SavedHidden!, KernelReading.F, KernelReading.SaveBuffer(x.SavedHidden!))));

    /// <summary>Weights the expert kernel reads as packed GEMM panels.</summary>
    public static IEnumerable<string> PackedWeights(IReadOnlyList<KernelReading> kernels) =>
        kernels.OfType<ExpertKernel>().SelectMany(k => k.GemmWeights);

    public static void Emit(SourceWriter w, IReadOnlyList<KernelReading> kernels)
    {
        var mlp = kernels.OfType<ExpertKernel>().First().Mlp;
        // The gates buffer combine reads: dispatch copies each kept choice's gate next to its row.
        var gatesField = Field(kernels.OfType<CombineKernel>().First().Parameters.First(p => p.Name == "gates"));
        w.Line("/// <summary>The same plan as <see cref=\"Kernels\"/>, scheduled for the CPU: vectorised and multi-threaded.</summary>");
        w.Open("public sealed class CpuKernels : global::Wudao.CpuKernelSet");
        w.Line($"public CpuKernels() : base(new string[] {{ {string.Join(", ", kernels.Select(k => "\"" + k.Role + "\""))} }}) {{ }}");
        w.Line();
        w.Line($"public const int TokenChunk = {NativeSchedule.TokenChunk};");
        w.Line($"public const int TileRows = {NativeSchedule.TileRows};");
        w.Line($"public const int LogitRows = {NativeSchedule.LogitRows};");
        w.Line("/// <summary>Scratch floats per worker: an expert tile's hidden rows, or a per-token gate's rows and its batched logits.</summary>");
        var gateFloats = CpuGateEmitter.ScratchFloats(kernels.OfType<GateKernel>().First());
        w.Line($"public const int ScratchFloats = TileRows * Kernels.H1 > {gateFloats} ? TileRows * Kernels.H1 : {gateFloats};");
        GemmFragments.Constants(w);
        w.Line();
        var fields = kernels.SelectMany(k => k.Parameters).GroupBy(Field).Select(g => g.First()).ToList();
        foreach (var p in fields)
        {
            var type = p.Kind == BindingKind.Args ? "global::Wudao.LayerArgs" : p.CsType;
            w.Line($"public {type} {Field(p)};");
        }

        foreach (var value in PackedWeights(kernels))
        {
            w.Line($"public float[] p_{value} = global::System.Array.Empty<float>();");
        }

        w.Line("/// <summary>A training forward: the kernels also write what the backward reads into the save_ buffers.</summary>");
        w.Line("public bool saving;");
        foreach (var save in Saves(kernels))
        {
            w.Line($"public {save.CsType} {save.Name};");
        }

        w.Line("public global::ILGPU.ArrayView<float> scratch;");
        w.Line("/// <summary>When set, dispatch keeps each row's gate in <see cref=\"rowgates\"/>, the second GEMM's epilogue applies it and combine only sums.</summary>");
        w.Line("public bool rowsScaled;");
        w.Line("public global::ILGPU.ArrayView<float> rowgates;");

        w.Line("public int tiles;");
        w.Line();
        w.Open("public override void Run(int kernel, int item, int worker)");
        w.Open("switch (kernel)");
        foreach (var k in kernels)
        {
            w.Line($"case {k.Index}: {k.Method}(item, worker); break;");
        }

        w.Line("default: throw new global::System.ArgumentOutOfRangeException(nameof(kernel));");
        w.Close();
        w.Close();
        w.Line();
        EmitLaunch(w, kernels);
        foreach (var k in kernels)
        {
            w.Line();
            w.Open($"public void {k.Method}(int item, int worker)");
            foreach (var p in k is GateKernel ? new List<KernelParam>() : k.Parameters)
            {
                w.Line(Prologue(p));
            }

            w.Lines(Body(k, gatesField, mlp));
            w.Close();
        }

        w.Line();
        w.Lines(CpuMoeFragments.Helpers + "\n" + GemmFragments.Members + CpuRouteEmitter.Members(kernels.OfType<RouteKernel>().First()));
        if (mlp.Activation != null)
        {
            w.Lines(ActivationRowEmitter.Emit(mlp.Activation, "ActivateRow", "Kernels.H", "Wide"));
            w.Line();
        }

        if (mlp.UpBias == null || mlp.DownBias == null)
        {
            w.Line("/// <summary>The bias of a GEMM that has none.</summary>");
            w.Line("private static readonly float[] Zeros = new float[Kernels.H1 > Kernels.D ? Kernels.H1 : Kernels.D];");
        }
        w.Close();
        w.Line();
    }

    private static void EmitLaunch(SourceWriter w, IReadOnlyList<KernelReading> kernels)
    {
        w.Line("/// <summary>Runs the plan for <paramref name=\"t\"/> tokens; buffers and args must be bound.</summary>");
        w.Open("public void Launch(global::Wudao.CpuWorkers workers, int t)");
        w.Line("long start;");
        foreach (var k in kernels)
        {
            // Work items: expert tiles, or chunks of TokenChunk tokens (gate, dispatch, combine).
            var count = k.Space == IterationSpace.ExpertRows ? "tiles" : "(t + TokenChunk - 1) / TokenChunk";
            if (k.Space == IterationSpace.ExpertRows)
            {
                w.Line($"tiles = CountTiles(ref global::Wudao.CpuMemory.Ref(meta), Kernels.{((ExpertKernel)k).Offsets});");
            }

            w.Line("start = global::System.Diagnostics.Stopwatch.GetTimestamp();");
            w.Line(k.Space == IterationSpace.TokenScan ? $"{k.Method}(0, 0);" : $"workers.For(this, {k.Index}, {count});");
            w.Line($"ElapsedTicks[{k.Index}] += global::System.Diagnostics.Stopwatch.GetTimestamp() - start;");
        }

        w.Close();
    }

    private static string Prologue(KernelParam p) => p switch
    {
        { Kind: BindingKind.Args } => "var args = this.args;",
        { Kind: BindingKind.Weight, Name: "w1" or "w2" } => $"ref float {p.Name} = ref global::System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(p_{p.Value});",
        _ => $"ref {(p.CsType.EndsWith("<int>", System.StringComparison.Ordinal) ? "int" : "float")} {p.Name} = ref global::Wudao.CpuMemory.Ref(this.{Field(p)});",
    };

    private static string Body(KernelReading k, string gatesField, FusedMlp mlp) => k switch
    {
        GateKernel g => CpuGateEmitter.Body(g),
        RouteKernel r => CpuRouteEmitter.Body(r),
        DispatchKernel d => CpuRowKernels.Dispatch(d, gatesField),
        ExpertKernel x => CpuRowKernels.ExpertFfn(x),
        CombineKernel c => CpuRowKernels.Combine(c),
        _ => throw KernelReading.Unfused(k.Kernel),
    };
}
