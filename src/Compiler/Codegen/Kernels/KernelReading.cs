using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// A planned kernel read for emission, from the plan alone: what it binds and what its ops
/// decide. Every target's emitter assembles its kernel from the same reading, so no emitter reads
/// another's output and none reads the spec.
/// </summary>
public abstract class KernelReading
{
    internal const string F = "global::ILGPU.ArrayView<float>";
    internal const string I = "global::ILGPU.ArrayView<int>";
    internal const string Args = "global::Wudao.LayerArgs";

    protected KernelReading(PlannedKernel kernel, string method, IReadOnlyList<KernelParam> parameters)
    {
        Kernel = kernel;
        Method = method;
        Parameters = parameters;
    }

    public PlannedKernel Kernel { get; }

    public int Index => Kernel.Index;

    public IterationSpace Space => Kernel.Space;

    public string Role => Kernel.Name;

    /// <summary>The kernel's method name, the same on every target.</summary>
    public string Method { get; }

    /// <summary>What the kernel binds, in order; buffers are device views on every target.</summary>
    public IReadOnlyList<KernelParam> Parameters { get; }

    /// <summary>
    /// Reads every kernel of a MoE layer's plan; a kernel no reading fits is a
    /// <see cref="KernelAssemblyException"/>. <paramref name="saved"/>: values a training forward
    /// writes for backward that the plan otherwise keeps inside a kernel.
    /// </summary>
    public static IReadOnlyList<KernelReading> ReadAll(KernelPlan plan, IReadOnlyCollection<string>? saved = null) => plan.Kernels.Select(k => Read(k, plan, saved)).ToList();

    /// <summary>The buffer a training forward writes a saved value to (a kernel field or parameter).</summary>
    public static string SaveBuffer(string value) => "save_" + value;

    /// <summary>Name of the constant holding a value's offset in the statistics block.</summary>
    public static string Meta(string value) => "Meta_" + value;

    public static BindingKind InputOrBuffer(KernelPlan plan, string value) =>
        plan.Graph.Inputs.Any(i => i.Key == value) ? BindingKind.Input : BindingKind.Buffer;

    internal static KernelAssemblyException Unfused(PlannedKernel k, string expected = "") =>
        new($"k{k.Index}: no fragment set fuses [{string.Join(", ", k.OpNames)}]{(expected.Length > 0 ? $" (expected [{expected}])" : "")}");

    private static KernelReading Read(PlannedKernel k, KernelPlan plan, IReadOnlyCollection<string>? saved) => k.Space switch
    {
        IterationSpace.TokenRows => GateKernel.From(k, plan, saved),
        IterationSpace.TokenScan => RouteKernel.From(k, plan),
        IterationSpace.Choices => DispatchKernel.From(k),
        IterationSpace.ExpertRows => ExpertKernel.From(k, plan, saved),
        IterationSpace.TokenGather => CombineKernel.From(k),
        _ => throw Unfused(k),
    };
}
