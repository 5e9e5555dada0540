using System;
using System.Runtime.InteropServices;

namespace Wudao.Attention;

/// <summary>The native forward over a native session's device tensors (their memory is host memory).</summary>
public static partial class NativeAttention
{
    /// <summary>
    /// Packed attention over tensors of a <see cref="DeviceKind.Native"/> session, on its workers
    /// unless others are named: q/output [T, Heads, HeadDim], k/v [T, KvHeads, HeadDim], lse [T, Heads].
    /// </summary>
    public static void Forward<TKernel>(AttentionShape shape, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor output, DeviceTensor lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default, CpuWorkers? workers = null)
        where TKernel : struct, INativeAttentionKernel =>
        Forward<TKernel>(shape, Span(q), Span(k), Span(v), Span(output), Span(lse), seqOffsets, positions, workers);

    /// <summary>The cached forward over a native session's tensors.</summary>
    public static void Forward<TKernel>(AttentionShape shape, KvCache cache, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor output, DeviceTensor lse, ReadOnlySpan<int> seqOffsets, CpuWorkers? workers = null)
        where TKernel : struct, INativeAttentionKernel =>
        Forward<TKernel>(shape, cache, Span(q), Span(k), Span(v), Span(output), Span(lse), seqOffsets, workers);

    private static Span<float> Span(DeviceTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var length = tensor.Length <= int.MaxValue ? (int)tensor.Length : throw new ArgumentException($"a tensor of {tensor.Length} floats is beyond a span");
        return length == 0 ? System.Span<float>.Empty : MemoryMarshal.CreateSpan(ref CpuMemory.Ref(tensor.View), length);
    }
}
