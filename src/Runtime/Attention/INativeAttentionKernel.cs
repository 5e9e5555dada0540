using System;

namespace Wudao.Attention;

/// <summary>
/// The math of a native fused attention for one head dimension, emitted by Wudao's generator
/// (a model's attention, or an <c>[AttentionKernel(HeadDim = ...)]</c> declaration) with the head
/// dimension, the key tile and the vector widths as constants. The runtime's scheduler
/// (<see cref="NativeAttention"/>) plans the work items, owns the memory and runs the items on
/// its threads; it calls these for each item. Implemented by structs, so the JIT compiles one
/// scheduler per kernel and the calls are direct.
/// </summary>
public interface INativeAttentionKernel
{
    /// <summary>The head dimension the kernel was emitted for.</summary>
    static abstract int HeadDim { get; }

    /// <summary>Whether the kernel RMS-normalises each query and key head (γ per head dim, before RoPE) as it loads it: qk_norm fused as its prologue.</summary>
    static abstract bool QkNorm { get; }

    /// <summary>Null when the kernel runs <paramref name="shape"/>; else why not (a model's kernel has its heads, kv heads, mask and RoPE as constants).</summary>
    static abstract string? Refuses(AttentionShape shape);

    /// <summary>RoPE's inverse frequencies the kernel rotates by: a model's kernel's constants, else the shape's.</summary>
    static abstract ReadOnlySpan<float> InverseFrequencies(AttentionShape shape);

    /// <summary>Floats of per-worker scratch one attention item of <paramref name="rows"/> query rows needs.</summary>
    static abstract int WorkFloats(int rows);

    /// <summary>kv_pack: rotates (if RoPE) one chunk of new keys and stores keys and values in the <see cref="KvTiles"/> layout.</summary>
    static abstract void Pack(in AttentionPackItem item);

    /// <summary>attention: one query tile of one kv head's group against every key tile it may see.</summary>
    static abstract void Attend(in AttentionTileItem item);
}

/// <summary>
/// One kv_pack item: <see cref="Count"/> new tokens of one sequence, starting at row
/// <see cref="FirstToken"/> of k/v ([T, KvHeads, HeadDim]) and at cache position
/// <see cref="FirstPosition"/>. Keys and values go to <see cref="Keys"/>/<see cref="Values"/>
/// from <see cref="KeyBase"/> in the layout of <see cref="KvTiles"/> with <see cref="Tiles"/>
/// tiles per kv head. RoPE angles use <see cref="Positions"/>[token] when it is not empty.
/// </summary>
public readonly ref struct AttentionPackItem
{
    /// <summary>The layer's attention.</summary>
    public AttentionShape Shape { get; init; }

    /// <summary>New keys, [T, KvHeads, HeadDim] row-major.</summary>
    public ReadOnlySpan<float> K { get; init; }

    /// <summary>New values, [T, KvHeads, HeadDim] row-major.</summary>
    public ReadOnlySpan<float> V { get; init; }

    /// <summary>Each token's position for RoPE; empty: positions run from <see cref="FirstPosition"/>.</summary>
    public ReadOnlySpan<int> Positions { get; init; }

    /// <summary>First row of k/v this item packs.</summary>
    public int FirstToken { get; init; }

    /// <summary>Tokens this item packs.</summary>
    public int Count { get; init; }

    /// <summary>Cache position of the item's first token.</summary>
    public int FirstPosition { get; init; }

    /// <summary>Destination of the keys, in the <see cref="KvTiles"/> layout.</summary>
    public Span<float> Keys { get; init; }

    /// <summary>Destination of the values, in the <see cref="KvTiles"/> layout.</summary>
    public Span<float> Values { get; init; }

    /// <summary>Index in <see cref="Keys"/> and <see cref="Values"/> where this sequence's tiles start.</summary>
    public int KeyBase { get; init; }

    /// <summary>Key tiles per kv head.</summary>
    public int Tiles { get; init; }

    /// <summary>The keys' qk_norm γ (HeadDim floats) for a <see cref="INativeAttentionKernel.QkNorm"/> kernel; empty otherwise.</summary>
    public ReadOnlySpan<float> KNorm { get; init; }
}

/// <summary>
/// One attention item: <see cref="Tokens"/> query tokens from row <see cref="FirstToken"/> of q
/// ([T, Heads, HeadDim]) at positions <see cref="FirstPosition"/>.., every query head of kv head
/// <see cref="KvHead"/>'s group, against keys 0..<see cref="KeyEnd"/>−1 of <see cref="Keys"/> and
/// <see cref="Values"/> (this kv head's tiles, from index 0). Writes out and lse rows of those
/// tokens and heads. <see cref="Work"/> is the worker's scratch of
/// <see cref="INativeAttentionKernel.WorkFloats"/>; <see cref="RowPositions"/> one int per row.
/// </summary>
public readonly ref struct AttentionTileItem
{
    /// <summary>The layer's attention.</summary>
    public AttentionShape Shape { get; init; }

    /// <summary>Queries, [T, Heads, HeadDim] row-major.</summary>
    public ReadOnlySpan<float> Q { get; init; }

    /// <summary>Output, [T, Heads, HeadDim] row-major; the item writes its tokens' rows of its group's heads.</summary>
    public Span<float> Output { get; init; }

    /// <summary>Log-sum-exp of each softmax, [T, Heads]; the item writes its tokens' and heads' entries.</summary>
    public Span<float> Lse { get; init; }

    /// <summary>Each token's position (causal mask, RoPE); empty: positions run from <see cref="FirstPosition"/>.</summary>
    public ReadOnlySpan<int> Positions { get; init; }

    /// <summary>First row of q this item reads.</summary>
    public int FirstToken { get; init; }

    /// <summary>Query tokens in this item.</summary>
    public int Tokens { get; init; }

    /// <summary>Position of the item's first query token.</summary>
    public int FirstPosition { get; init; }

    /// <summary>Keys this item may see: indices 0..KeyEnd−1.</summary>
    public int KeyEnd { get; init; }

    /// <summary>The kv head whose group of query heads this item computes.</summary>
    public int KvHead { get; init; }

    /// <summary>This kv head's key tiles, from index 0 (<see cref="KvTiles"/> layout).</summary>
    public ReadOnlySpan<float> Keys { get; init; }

    /// <summary>This kv head's value rows, from index 0 (<see cref="KvTiles"/> layout).</summary>
    public ReadOnlySpan<float> Values { get; init; }

    /// <summary>The worker's scratch, <see cref="INativeAttentionKernel.WorkFloats"/> floats.</summary>
    public Span<float> Work { get; init; }

    /// <summary>Scratch of one int per query row, for the rows' positions.</summary>
    public Span<int> RowPositions { get; init; }

    /// <summary>The queries' qk_norm γ (HeadDim floats) for a <see cref="INativeAttentionKernel.QkNorm"/> kernel; empty otherwise.</summary>
    public ReadOnlySpan<float> QNorm { get; init; }
}
