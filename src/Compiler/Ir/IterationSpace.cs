namespace Wudao.Compiler.Ir;

/// <summary>
/// The space an op's threads iterate over. Fusion keeps ops that share a space together;
/// a change of space is where a kernel boundary may be needed.
/// </summary>
public enum IterationSpace
{
    /// <summary>No work: parameters are bound, not computed.</summary>
    None,

    /// <summary>One thread per token; each token's row stays in that thread.</summary>
    TokenRows,

    /// <summary>An ordered pass over all tokens (capacity slotting, scans, loss reductions).</summary>
    TokenScan,

    /// <summary>One thread per (token, choice, column): scatter into expert-contiguous rows.</summary>
    Choices,

    /// <summary>Tiles of expert-contiguous rows, each tile inside one expert.</summary>
    ExpertRows,

    /// <summary>One thread per output element of a token: gather from expert rows.</summary>
    TokenGather,

    /// <summary>Row tiles of a dense GEMM over all tokens (projections, dense feed-forward, LM head).</summary>
    DenseRows,

    /// <summary>Query tiles of each sequence and head, streaming key/value tiles (attention).</summary>
    Sequences,

    /// <summary>A compiled sub-layer with a plan of its own (the MoE feed-forward).</summary>
    SubLayer,

    /// <summary>The last token's whole row of logits, once per generated token (sampling the next token).</summary>
    VocabRow,

    /// <summary>
    /// Tiles of a weight's gradient, each summing over every row that read the weight (an expert's
    /// rows, or all tokens): a GEMM of Xᵀ·dY, ordered, with no atomics.
    /// </summary>
    WeightTiles,
}
