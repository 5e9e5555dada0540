using System;
using System.Runtime.Intrinsics;
using System.Threading;

namespace Wudao.Attention;

/// <summary>
/// Fused attention forward on the CPU (FlashAttention's algorithm): tiled over queries and keys
/// with an online softmax, so the T×T score matrix never exists; causal masking, GQA/MQA, RoPE
/// on load, packed variable-length sequences and a KV cache; returns the log-sum-exp per row.
/// Layouts are those of <see cref="AttentionShape"/>. Vectorised with AVX-512 where the machine
/// has it (256-bit vectors otherwise), multi-threaded over (sequence, kv head, query tile) items.
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
    /// Attention over packed sequences: sequence b is tokens seqOffsets[b]..seqOffsets[b+1]−1 and
    /// attends only to itself. <paramref name="positions"/> (one per token, optional) are the
    /// absolute positions RoPE rotates by; by default a token's index in its sequence. The causal
    /// mask always follows the index in the sequence. lse[t, h] = ln Σ_j exp(scale · q·k_j).
    /// </summary>
    public static void Forward(AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default, CpuWorkers? workers = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        switch (shape.HeadDim)
        {
            case 32:
                Forward<HeadDim32>(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 64:
                Forward<HeadDim64>(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 128:
                Forward<HeadDim128>(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            default:
                throw UnsupportedDim(shape.HeadDim);
        }
    }

    /// <summary><see cref="Forward(AttentionShape, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, ReadOnlySpan{int}, ReadOnlySpan{int}, CpuWorkers?)"/> with the head dimension as a type, as generated models call it.</summary>
    public static void Forward<TDim>(AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default, CpuWorkers? workers = null)
        where TDim : struct, IHeadDim
    {
        CheckDim<TDim>(shape);
        var tokens = AttentionChecks.Inputs(shape, q.Length, k.Length, v.Length, output.Length, lse.Length, seqOffsets);
        AttentionChecks.Positions(positions, tokens);
        if (tokens > 0)
        {
            Run<TDim>(shape, q, k, v, output, lse, seqOffsets, positions, null, workers ?? DefaultWorkers);
        }
    }

    /// <summary>
    /// Attention with a KV cache (prefill or decode): sequence b of the batch is sequence b of the
    /// cache. Each sequence's new tokens (zero or more) are rotated at positions Length(b),
    /// Length(b)+1, ..., appended to the cache, and attend over everything cached; with a causal
    /// shape the token at position p sees keys 0..p. Fails, changing nothing, if a sequence would
    /// overflow the cache.
    /// </summary>
    public static void Forward(AttentionShape shape, KvCache cache, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, CpuWorkers? workers = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        switch (shape.HeadDim)
        {
            case 32:
                Forward<HeadDim32>(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 64:
                Forward<HeadDim64>(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 128:
                Forward<HeadDim128>(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            default:
                throw UnsupportedDim(shape.HeadDim);
        }
    }

    /// <summary>The cached forward with the head dimension as a type.</summary>
    public static void Forward<TDim>(AttentionShape shape, KvCache cache, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, CpuWorkers? workers = null)
        where TDim : struct, IHeadDim
    {
        CheckDim<TDim>(shape);
        var tokens = AttentionChecks.Inputs(shape, q.Length, k.Length, v.Length, output.Length, lse.Length, seqOffsets);
        AttentionChecks.Cache(shape, cache, seqOffsets);
        if (tokens > 0)
        {
            Run<TDim>(shape, q, k, v, output, lse, seqOffsets, default, cache, workers ?? DefaultWorkers);
        }
    }

    private static void Run<TDim>(AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions, KvCache? cache, CpuWorkers workers)
        where TDim : struct, IHeadDim
    {
        if (Vector512.IsHardwareAccelerated)
        {
            NativeAttentionRun<TDim, Simd512, Vector512<float>>.Execute(shape, q, k, v, output, lse, seqOffsets, positions, cache, workers);
        }
        else
        {
            NativeAttentionRun<TDim, Simd256, Vector256<float>>.Execute(shape, q, k, v, output, lse, seqOffsets, positions, cache, workers);
        }
    }

    private static void CheckDim<TDim>(AttentionShape shape)
        where TDim : struct, IHeadDim
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.HeadDim != TDim.Value)
        {
            throw new ArgumentException($"the shape's head dim is {shape.HeadDim} but the kernel was asked for {typeof(TDim).Name} ({TDim.Value})", nameof(shape));
        }

        if (TDim.Value % 16 != 0)
        {
            throw new ArgumentException($"the native kernel needs a head dim that is a multiple of 16 (whole vectors); {TDim.Value} is not", nameof(shape));
        }
    }

    private static NotSupportedException UnsupportedDim(int dim) =>
        new($"head dim {dim} has no provided IHeadDim (32, 64, 128); declare a struct implementing IHeadDim and call Forward<TDim>");
}
