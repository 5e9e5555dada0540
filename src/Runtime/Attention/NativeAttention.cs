using System;
using System.Threading;

namespace Wudao.Attention;

/// <summary>
/// The native schedule of fused attention (FlashAttention's algorithm): tiled over queries and
/// keys with an online softmax, so the T×T score matrix never exists; causal masking, GQA/MQA,
/// RoPE on load, packed variable-length sequences and a KV cache; returns the log-sum-exp per
/// row. Layouts are those of <see cref="AttentionShape"/>. The math is an emitted
/// <see cref="INativeAttentionKernel"/>; this checks the inputs, plans the work items and runs
/// them on <see cref="CpuWorkers"/>, multi-threaded over (sequence, kv head, query tile).
/// </summary>
public static partial class NativeAttention
{
    /// <summary>Keys per tile: the unit of the online softmax and of the cache's key layout.</summary>
    public const int KeyTile = 64;

    private static CpuWorkers? s_workers;

    /// <summary>Threads used when a call names none: one per core, created on first use.</summary>
    public static CpuWorkers DefaultWorkers
    {
        get
        {
            if (s_workers == null)
            {
                var created = new CpuWorkers(Environment.ProcessorCount);
                if (Interlocked.CompareExchange(ref s_workers, created, null) != null)
                {
                    created.Dispose();
                }
            }

            return s_workers;
        }
    }

    /// <summary>
    /// Attention over packed sequences with the emitted kernel <typeparamref name="TKernel"/>:
    /// sequence b is tokens seqOffsets[b]..seqOffsets[b+1]−1 and attends only to itself.
    /// <paramref name="positions"/> (one per token, optional) are the absolute positions RoPE
    /// rotates by; by default a token's index in its sequence. The causal mask always follows the
    /// index in the sequence. lse[t, h] = ln Σ_j exp(scale · q·k_j).
    /// </summary>
    public static void Forward<TKernel>(AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default, CpuWorkers? workers = null, ReadOnlySpan<float> qNorm = default, ReadOnlySpan<float> kNorm = default)
        where TKernel : struct, INativeAttentionKernel
    {
        CheckKernel<TKernel>(shape);
        AttentionChecks.QkNorm(TKernel.QkNorm, shape.HeadDim, qNorm.Length, kNorm.Length);
        var tokens = AttentionChecks.Inputs(shape, q.Length, k.Length, v.Length, output.Length, lse.Length, seqOffsets);
        AttentionChecks.Positions(positions, tokens);
        if (tokens > 0)
        {
            NativeAttentionRun<TKernel>.Execute(shape, q, k, v, output, lse, seqOffsets, positions, null, workers ?? DefaultWorkers, qNorm, kNorm);
        }
    }

    /// <summary>
    /// Attention with a KV cache (prefill or decode): sequence b of the batch is sequence b of the
    /// cache. Each sequence's new tokens (zero or more) are rotated at positions Length(b),
    /// Length(b)+1, ..., appended to the cache, and attend over everything cached; with a causal
    /// shape the token at position p sees keys 0..p. Fails, changing nothing, if a sequence would
    /// overflow the cache.
    /// </summary>
    /// <remarks>A <see cref="INativeAttentionKernel.QkNorm"/> kernel takes the γ of the queries and keys (HeadDim each); others take none.</remarks>
    public static void Forward<TKernel>(AttentionShape shape, KvCache cache, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, CpuWorkers? workers = null, ReadOnlySpan<float> qNorm = default, ReadOnlySpan<float> kNorm = default)
        where TKernel : struct, INativeAttentionKernel
    {
        CheckKernel<TKernel>(shape);
        AttentionChecks.QkNorm(TKernel.QkNorm, shape.HeadDim, qNorm.Length, kNorm.Length);
        var tokens = AttentionChecks.Inputs(shape, q.Length, k.Length, v.Length, output.Length, lse.Length, seqOffsets);
        AttentionChecks.Cache(shape, cache, seqOffsets);
        if (tokens > 0)
        {
            NativeAttentionRun<TKernel>.Execute(shape, q, k, v, output, lse, seqOffsets, default, cache, workers ?? DefaultWorkers, qNorm, kNorm);
        }
    }

    private static void CheckKernel<TKernel>(AttentionShape shape)
        where TKernel : struct, INativeAttentionKernel
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.HeadDim != TKernel.HeadDim)
        {
            throw new ArgumentException($"the shape's head dim is {shape.HeadDim} but the kernel {typeof(TKernel).Name} was emitted for {TKernel.HeadDim}", nameof(shape));
        }

        if (TKernel.Refuses(shape) is { } why)
        {
            throw new ArgumentException($"{typeof(TKernel).Name}: {why}", nameof(shape));
        }
    }
}
