using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Should these fuse? Policy only; <see cref="FusionPass"/> does the fusing. Each answer carries
/// the reason a user reads in the plan.
/// </summary>
public static class FusionPolicy
{
    /// <summary>A consumer reading a producer's result inside the producer's kernel.</summary>
    public static (bool Fuse, string Reason) Vertical(Node producer, Node consumer)
    {
        var from = Ops.Get(producer.Op).Space;
        var to = Ops.Get(consumer.Op).Space;
        switch (from, to)
        {
            case (IterationSpace.TokenRows, IterationSpace.TokenRows):
                return (true, "row-local: each token's row stays in one thread");
            case (IterationSpace.TokenRows, IterationSpace.TokenScan):
                return (false, "capacity slots tokens in order across the whole batch (a grid-wide dependency); fusing would run the gate GEMV in one group");
            case (IterationSpace.TokenScan, IterationSpace.TokenScan):
                return (true, "same ordered pass over the tokens, in one group");
            case (IterationSpace.TokenScan, IterationSpace.Choices):
                return (false, "scatter needs every expert's final offset, known only after the ordered pass; it is bandwidth-bound and must span the grid");
            case (IterationSpace.Choices, IterationSpace.ExpertRows):
                return (false, $"GEMM tiles read expert-contiguous rows that {producer.Op} writes (the all-to-all send buffer under expert parallelism)");
            case (IterationSpace.ExpertRows, IterationSpace.ExpertRows):
                if (Ops.Get(consumer.Op).IsEpilogue)
                {
                    return (true, "epilogue: elementwise on the GEMM tile in registers");
                }

                return consumer.Op == Ops.GroupedMatMul
                    ? (true, "fused MLP: the hidden tile stays in shared memory, same expert rows")
                    : (false, $"{consumer.Op} is not an epilogue or a GEMM of the same rows");
            case (IterationSpace.TokenRows, IterationSpace.DenseRows):
                return (false, "a GEMM reuses each normalised row across all its column tiles; normalising inside every tile would redo the row's reduction");
            case (IterationSpace.TokenRows, IterationSpace.Sequences) when IsPrologue(producer, consumer):
                return (true, "prologue: attention RMS-normalises each query and key head as it loads it, before RoPE, so the qkv rows are not rewritten");
            case (IterationSpace.DenseRows, IterationSpace.Sequences):
                return (false, "attention reads the keys and values of every earlier token: the projection must finish for the whole sequence first");
            case (IterationSpace.Sequences, IterationSpace.DenseRows):
                return (false, "the output projection reads all heads of a row, which different attention work items write");
            case (IterationSpace.DenseRows, IterationSpace.TokenRows):
                return (false, "the norm reduces over whole rows; a GEMM tile holds only a block of a row's columns");
            case (IterationSpace.TokenRows, IterationSpace.SubLayer):
            case (IterationSpace.SubLayer, IterationSpace.TokenRows):
                return (false, "the MoE feed-forward is a layer with its own plan (gate, route, dispatch, experts, combine)");
            case (IterationSpace.DenseRows, IterationSpace.VocabRow):
                return (false, "sampling reads the last token's whole row of logits (a max, or a sort and a scan); a GEMM tile holds a block of its columns, and it runs per generated token with options a step does not have");
            case (IterationSpace.ExpertRows, IterationSpace.WeightTiles) when IsPrologue(producer, consumer):
                return (true, "prologue: the weight-gradient GEMM recomputes the activation as it loads each row, so the recomputed rows never reach memory");
            case (IterationSpace.ExpertRows, IterationSpace.WeightTiles):
            case (IterationSpace.Choices, IterationSpace.WeightTiles):
            case (IterationSpace.TokenRows, IterationSpace.WeightTiles):
                return (false, "a weight's gradient sums over every row that read the weight; row-parallel threads would need atomics and lose determinism, so it runs in tiles of the weight");
            case (IterationSpace.ExpertRows, IterationSpace.TokenGather):
                return (false, $"{consumer.Op} sums rows written by different experts' tiles; fusing needs atomics and loses determinism");
            default:
                return (false, $"iteration spaces differ ({from} -> {to})");
        }
    }

    /// <summary>A row-local op that a consumer with a wider iteration space applies as it loads its input: the fused kernel runs in the consumer's space.</summary>
    public static bool IsPrologue(Node producer, Node consumer) =>
        (producer.Op == Ops.QkNorm && consumer.Op == Ops.Attention)
        || (Ops.Get(producer.Op).Activation != null && consumer.Op == Ops.GroupedMatMulDw && consumer.Operands[0] == producer.Results[0]);

    /// <summary>
    /// May combine's gate weight be applied in the expert kernel's second-GEMM epilogue? Legal when
    /// combine is the only reader of the expert rows: each row then leaves the GEMM already
    /// scaled, and combine only sums.
    /// </summary>
    public static (bool Fuse, string Reason) CombineWeightIntoEpilogue(Graph graph)
    {
        var combine = graph.Nodes.FirstOrDefault(n => n.Op == Ops.Combine);
        if (combine == null)
        {
            return (false, "there is no combine");
        }

        var rows = combine.Operands[0];
        var readers = graph.Nodes.Count(n => n.Operands.Contains(rows)) + graph.Outputs.Count(o => o == rows);
        return readers == 1
            ? (true, $"combine is the only reader of %{rows}, so each row leaves the second GEMM already scaled by its gate")
            : (false, $"%{rows} has {readers} readers; scaling it in the GEMM would change what the others read");
    }

    /// <summary>A consumer that reads nothing from a kernel but may share its threads.</summary>
    public static (bool Fuse, string Reason) Horizontal(IterationSpace kernel, Node consumer, IReadOnlyCollection<string> kernelReads)
    {
        var to = Ops.Get(consumer.Op).Space;
        if (kernel == to && to == IterationSpace.TokenScan)
        {
            return (true, "reduces over the same tokens as the ordered pass: one group reads them once");
        }

        var shared = consumer.Operands.FirstOrDefault(kernelReads.Contains);
        if (kernel == to && to == IterationSpace.TokenRows && shared != null)
        {
            return (true, $"row-local and reads the same token rows (%{shared}): one thread loads them once for both");
        }

        return (false, kernel == to
            ? $"shares no data with the kernel and {to} kernels are not merged sideways"
            : $"iteration spaces differ ({kernel} -> {to})");
    }
}
