using System;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ILGPU target's choices for a plan: the expert kernel's tile (rows staged in shared memory,
/// hidden columns per step) and the model GEMMs' tiles. Derived from the plan's types; the neutral
/// plan holds none of it.
/// </summary>
/// <param name="TileRows">Rows of one expert tile (TM).</param>
/// <param name="HiddenChunk">Hidden columns computed per step of the fused MLP (HC).</param>
public sealed record IlgpuSchedule(int TileRows, int HiddenChunk)
{
    /// <summary>Shared-memory budget in floats for one expert tile of inputs (16 KiB).</summary>
    public const int TileFloats = 4096;

    /// <summary>Most threads per group a kernel is written for.</summary>
    public const int MaxGroup = 256;

    /// <summary>Static shared memory a group may hold on every CUDA device (48 KiB).</summary>
    public const int SharedBytes = 48 * 1024;

    /// <summary>Threads of a device GEMM group: both GEMM tiles have exactly this many, a power of two.</summary>
    public const int GemmThreads = 256;

    /// <summary>
    /// The model GEMMs' tile: 64 x 64 outputs, 4 x 4 a thread, so each x and w value staged in shared
    /// memory feeds 64 multiply-adds; K in steps of 16 keeps both tiles to 8 KiB.
    /// </summary>
    public static GemmTile Gemm { get; } = new(64, 64, 16, 4, 4);

    /// <summary>
    /// The tile when a GEMM has at most 8 rows (decode): reading w dominates, so a group spends its
    /// threads on columns (one output each) and a tile row of N makes twice the wide tile's groups.
    /// </summary>
    public static GemmTile DecodeGemm { get; } = new(8, 32, 32, 1, 1);

    /// <summary>
    /// Query rows (= threads, = keys staged per tile) of the attention kernel for a head dim: 16
    /// while its Q, K and V tiles and scores fit the shared-memory budget, else 8 (head dims above 128).
    /// </summary>
    public static int AttentionTile(int headDim) =>
        ((3 * 16 * headDim) + (16 * 16)) * sizeof(float) <= SharedBytes ? 16 : 8;

    public static IlgpuSchedule For(KernelPlan plan)
    {
        var ffn = plan.Kernels.FirstOrDefault(k => k.Space == IterationSpace.ExpertRows);
        if (ffn == null)
        {
            return new IlgpuSchedule(1, 1);
        }

        var types = plan.Graph.ValueTypes();
        var d = types[ffn.Nodes[0].Operands[0]]!.Shape[1].Value;
        var hidden = ffn.Nodes.Where(n => n.Op == Ops.GroupedMatMul).Skip(1).Select(n => types[n.Operands[0]]!.Shape[1].Value).FirstOrDefault();
        return new IlgpuSchedule(Math.Max(1, Math.Min(16, TileFloats / Math.Max(1, d))), Math.Max(1, Math.Min(64, hidden)));
    }

    /// <summary>The schedule's lines in the printed plan: the expert kernel's tile, the GEMMs' tiles; empty when the plan has neither.</summary>
    public static string Describe(KernelPlan plan) => DescribeExperts(plan) + DescribeGemms(plan);

    private static string DescribeExperts(KernelPlan plan)
    {
        var ffn = plan.Kernels.FirstOrDefault(k => k.Space == IterationSpace.ExpertRows);
        if (ffn == null)
        {
            return "";
        }

        var s = For(plan);
        return $"  ilgpu schedule: k{ffn.Index} groups of ceil(T*k/{s.TileRows})+E, tile {s.TileRows} rows x {s.HiddenChunk} hidden in shared memory, up to {MaxGroup} threads a group\n";
    }

    private static string DescribeGemms(KernelPlan plan)
    {
        var gemms = plan.Kernels.Where(k => k.Space == IterationSpace.DenseRows).Select(k => $"k{k.Index}").ToList();
        if (gemms.Count == 0)
        {
            return "";
        }

        string Tile(GemmTile t) => $"groups of ceil(rows/{t.Rows}) x ceil(N/{t.Cols}), tile {t.Rows}x{t.Cols} and K steps of {t.Depth} in shared memory, {t.RegRows}x{t.RegCols} outputs a thread";
        return $"  ilgpu schedule: GEMMs of {string.Join(", ", gemms)} {Tile(Gemm)}; at most {DecodeGemm.Rows} rows: {Tile(DecodeGemm)}; {GemmThreads} threads a group\n";
    }
}
