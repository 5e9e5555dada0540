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

/// <summary>The output of planning: kernels in launch order, fusion decisions, memory and sync facts.</summary>
public sealed class KernelPlan
{
    public KernelPlan(Graph graph, IReadOnlyList<PlannedKernel> kernels, IReadOnlyList<FusionDecision> decisions, IReadOnlyList<MaterializedValue> materialized, IReadOnlyList<WeightBinding> weights, int hostSyncs, int tileRows, int hiddenChunk, (bool Fuse, string Reason) combineWeightInEpilogue)
    {
        CombineWeightInEpilogue = combineWeightInEpilogue;
        Graph = graph;
        Kernels = kernels;
        Decisions = decisions;
        Materialized = materialized;
        Weights = weights;
        HostSyncs = hostSyncs;
        TileRows = tileRows;
        HiddenChunk = hiddenChunk;
    }

    public Graph Graph { get; }

    public IReadOnlyList<PlannedKernel> Kernels { get; }

    public IReadOnlyList<FusionDecision> Decisions { get; }

    public IReadOnlyList<MaterializedValue> Materialized { get; }

    public IReadOnlyList<WeightBinding> Weights { get; }

    /// <summary>Device-to-host synchronisations per forward call.</summary>
    public int HostSyncs { get; }

    /// <summary>Rows of one expert tile in the expert FFN kernel.</summary>
    public int TileRows { get; }

    /// <summary>Hidden columns computed per step of the fused MLP (kept in shared memory).</summary>
    public int HiddenChunk { get; }

    /// <summary>
    /// Whether the native schedule applies combine's gate weight in the expert kernel's last GEMM
    /// epilogue (the GPU schedule accumulates rows across hidden chunks in device memory, so it
    /// keeps the weight in combine), and why.
    /// </summary>
    public (bool Fuse, string Reason) CombineWeightInEpilogue { get; }

    public override string ToString() => PlanPrinter.Print(this);
}
