using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native CPU target's choices for a plan: work-item and tile sizes, the GEMM's k block, and
/// whether combine's gate weight moves into the expert kernel's last epilogue (legal by
/// <see cref="FusionPolicy.CombineWeightIntoEpilogue"/>; the GPU schedule keeps it in combine).
/// </summary>
/// <param name="CombineWeightInEpilogue">The decision and its reason.</param>
public sealed record NativeSchedule((bool Fuse, string Reason) CombineWeightInEpilogue)
{
    /// <summary>Tokens per work item of the row-wise kernels.</summary>
    public const int TokenChunk = 32;

    /// <summary>Rows of one expert tile; a multiple of the micro-kernel's 6 rows.</summary>
    public const int TileRows = 96;

    /// <summary>Depth of one GEMM K block: a 32-wide B panel of it is 32 KiB, L1-resident.</summary>
    public const int KBlock = 256;

    /// <summary>Tokens whose router logits are computed together: enough independent FMA chains to hide their latency.</summary>
    public const int LogitRows = 8;

    public static NativeSchedule For(KernelPlan plan) => new(FusionPolicy.CombineWeightIntoEpilogue(plan.Graph));

    /// <summary>The schedule's line in the printed plan; empty when the plan has no expert kernel.</summary>
    public static string Describe(KernelPlan plan)
    {
        var ffn = plan.Kernels.FirstOrDefault(k => k.Space == IterationSpace.ExpertRows);
        if (ffn == null)
        {
            return "";
        }

        var (fuse, reason) = For(plan).CombineWeightInEpilogue;
        var tiles = $"  native schedule: k{ffn.Index} tiles of {TileRows} rows, packed GEMM panels, k blocks of {KBlock}; row kernels {TokenChunk} tokens a work item\n";
        return tiles + (fuse
            ? $"  native schedule: combine's gate weight is applied in k{ffn.Index}'s second-GEMM epilogue — {reason}\n"
            : $"  native schedule: combine's gate weight stays in combine — {reason}\n");
    }
}
