using System;
using Wudao.Attention;

namespace Wudao.Runtime.Tests;

// The generator's standalone attention kernels, one per head dimension the tests run: every
// multiple of 8 the issue names (48, 80, 96, 128, 256) and the model dims (32, 64).
[AttentionKernel(HeadDim = 8)]
internal static partial class Attention8
{
}

[AttentionKernel(HeadDim = 16)]
internal static partial class Attention16
{
}

[AttentionKernel(HeadDim = 32)]
internal static partial class Attention32
{
}

[AttentionKernel(HeadDim = 40)]
internal static partial class Attention40
{
}

[AttentionKernel(HeadDim = 48)]
internal static partial class Attention48
{
}

[AttentionKernel(HeadDim = 64)]
internal static partial class Attention64
{
}

[AttentionKernel(HeadDim = 80)]
internal static partial class Attention80
{
}

[AttentionKernel(HeadDim = 96)]
internal static partial class Attention96
{
}

[AttentionKernel(HeadDim = 128)]
internal static partial class Attention128
{
}

[AttentionKernel(HeadDim = 256)]
internal static partial class Attention256
{
}

/// <summary>Runs the declared kernel of a shape's head dimension, as a model runs its own.</summary>
internal static class AttentionKernels
{
    public static readonly int[] HeadDims = { 8, 16, 32, 40, 48, 64, 80, 96, 128, 256 };

    public static void Forward(AttentionShape shape, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, ReadOnlySpan<int> positions = default, CpuWorkers? workers = null)
    {
        switch (shape.HeadDim)
        {
            case 8:
                Attention8.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 16:
                Attention16.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 32:
                Attention32.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 40:
                Attention40.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 48:
                Attention48.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 64:
                Attention64.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 80:
                Attention80.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 96:
                Attention96.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 128:
                Attention128.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            case 256:
                Attention256.Forward(shape, q, k, v, output, lse, seqOffsets, positions, workers);
                break;
            default:
                throw new NotSupportedException($"no kernel is declared for head dim {shape.HeadDim}");
        }
    }

    public static void Forward(AttentionShape shape, KvCache cache, ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> output, Span<float> lse, ReadOnlySpan<int> seqOffsets, CpuWorkers? workers = null)
    {
        switch (shape.HeadDim)
        {
            case 8:
                Attention8.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 16:
                Attention16.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 32:
                Attention32.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 40:
                Attention40.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 48:
                Attention48.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 64:
                Attention64.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 80:
                Attention80.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 96:
                Attention96.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 128:
                Attention128.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            case 256:
                Attention256.Forward(shape, cache, q, k, v, output, lse, seqOffsets, workers);
                break;
            default:
                throw new NotSupportedException($"no kernel is declared for head dim {shape.HeadDim}");
        }
    }

    /// <summary>The declared kernel's ILGPU form, loaded on <paramref name="accelerator"/>.</summary>
    public static IlgpuAttention Device(ILGPU.Runtime.Accelerator accelerator, int headDim) => headDim switch
    {
        8 => Attention8.Device(accelerator),
        16 => Attention16.Device(accelerator),
        32 => Attention32.Device(accelerator),
        40 => Attention40.Device(accelerator),
        48 => Attention48.Device(accelerator),
        64 => Attention64.Device(accelerator),
        80 => Attention80.Device(accelerator),
        96 => Attention96.Device(accelerator),
        128 => Attention128.Device(accelerator),
        256 => Attention256.Device(accelerator),
        _ => throw new NotSupportedException($"no kernel is declared for head dim {headDim}"),
    };
}
