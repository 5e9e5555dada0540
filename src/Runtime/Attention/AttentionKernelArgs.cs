using System.Runtime.InteropServices;

namespace Wudao.Attention;

/// <summary>The scalars of an ILGPU attention launch: one struct keeps the kernel signature short.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct AttentionKernelArgs
{
    public AttentionKernelArgs(AttentionShape shape)
    {
        Heads = shape.Heads;
        KvHeads = shape.KvHeads;
        Causal = shape.Causal ? 1 : 0;
        Rope = shape.Rope ? 1 : 0;
        Scale = shape.Scale;
    }

    public readonly int Heads;

    public readonly int KvHeads;

    /// <summary>1: query i of a sequence sees keys 0..i; 0: every key of its sequence.</summary>
    public readonly int Causal;

    /// <summary>1: rotate q and k as they are loaded.</summary>
    public readonly int Rope;

    public readonly float Scale;
}
