using System.Collections.Generic;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Plan;

/// <summary>A value that crosses a kernel boundary (or leaves the graph) and so lives in device memory.</summary>
/// <param name="Value">The SSA value.</param>
/// <param name="Type">Its type; symbolic dims are bounded at launch (<c>S ≤ T·k</c>).</param>
/// <param name="Kernel">Index of the kernel that writes it.</param>
public sealed record MaterializedValue(string Value, TensorType Type, int Kernel);

/// <summary>A weight tensor the layer binds: its IR value, its name in weight files, its type, its fan-in.</summary>
public sealed record WeightBinding(string Value, string Name, TensorType Type, int FanIn);

/// <summary>
/// The output of planning, target-neutral: kernels in launch order, fusion decisions, memory and
/// sync facts. Tile sizes and other target choices live in each target's schedule.
/// </summary>
public sealed class KernelPlan
{
    public KernelPlan(Graph graph, IReadOnlyList<PlannedKernel> kernels, IReadOnlyList<FusionDecision> decisions, IReadOnlyList<MaterializedValue> materialized, IReadOnlyList<WeightBinding> weights, int hostSyncs)
    {
        Graph = graph;
        Kernels = kernels;
        Decisions = decisions;
        Materialized = materialized;
        Weights = weights;
        HostSyncs = hostSyncs;
    }

    public Graph Graph { get; }

    public IReadOnlyList<PlannedKernel> Kernels { get; }

    public IReadOnlyList<FusionDecision> Decisions { get; }

    public IReadOnlyList<MaterializedValue> Materialized { get; }

    public IReadOnlyList<WeightBinding> Weights { get; }

    /// <summary>Device-to-host synchronisations per forward call.</summary>
    public int HostSyncs { get; }

    public override string ToString() => PlanPrinter.Print(this);
}
