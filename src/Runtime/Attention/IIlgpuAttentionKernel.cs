using System;
using ILGPU;

namespace Wudao.Attention;

/// <summary>
/// The ILGPU kernels of a fused attention for one head dimension, emitted by Wudao's generator
/// with the head dimension and tile sizes as constants (shared memory is sized by them).
/// <see cref="IlgpuAttention"/> builds the per-call tables and launches these.
/// </summary>
public interface IIlgpuAttentionKernel
{
    /// <summary>The head dimension the kernels were emitted for.</summary>
    static abstract int HeadDim { get; }

    /// <summary>Whether the kernels RMS-normalise each query and key head as they load it (qk_norm fused as their prologue).</summary>
    static abstract bool QkNorm { get; }

    /// <summary>Null when the kernels run <paramref name="shape"/>; else why not (a model's kernels have its heads, kv heads, mask and RoPE as constants).</summary>
    static abstract string? Refuses(AttentionShape shape);

    /// <summary>RoPE's inverse frequencies the kernels rotate by: a model's kernels' constants, else the shape's.</summary>
    static abstract ReadOnlySpan<float> InverseFrequencies(AttentionShape shape);

    /// <summary>Threads per group of <see cref="Forward"/>, one query row each; also the keys per staged tile.</summary>
    static abstract int QueryTile { get; }

    /// <summary>
    /// Grid: one group per (query tile, head), group index tile·Heads + head. tiles holds
    /// <see cref="IlgpuAttention.TileFields"/> ints per query tile; positions each query token's
    /// RoPE position and, when keys are rotated on load, each key row's. qNorm and kNorm are the
    /// qk_norm γ of a <see cref="QkNorm"/> kernel (any view otherwise).
    /// </summary>
    static abstract void Forward(ArrayView<float> q, ArrayView<float> keys, ArrayView<float> values, ArrayView<float> output, ArrayView<float> lse, ArrayView<int> tiles, ArrayView<int> positions, ArrayView<float> inverseFrequencies, ArrayView<float> qNorm, ArrayView<float> kNorm, AttentionKernelArgs args);

    /// <summary>
    /// Writes a call's new keys (rotated at positions[t] with RoPE) and values into a KV cache:
    /// one thread per (token, kv head); rows[t] is token t's cache row.
    /// </summary>
    static abstract void Append(ArrayView<float> k, ArrayView<float> v, ArrayView<float> cacheKeys, ArrayView<float> cacheValues, ArrayView<int> rows, ArrayView<int> positions, ArrayView<float> inverseFrequencies, ArrayView<float> kNorm, AttentionKernelArgs args);
}
