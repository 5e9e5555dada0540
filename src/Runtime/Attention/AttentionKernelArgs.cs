using System.Runtime.InteropServices;

namespace Wudao.Attention;

/// <summary>The scalars of an ILGPU attention launch: one struct keeps the kernel signature short.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct AttentionKernelArgs
{
    /// <param name="shape">The layer's attention.</param>
    /// <param name="keysRotated">Keys come from a KV cache that holds them after RoPE.</param>
    public AttentionKernelArgs(AttentionShape shape, bool keysRotated = false)
    {
        Heads = shape.Heads;
        KvHeads = shape.KvHeads;
        Causal = shape.Causal ? 1 : 0;
        Rope = shape.Rope ? 1 : 0;
        RawKeys = keysRotated ? 0 : 1;
        Scale = shape.Scale;
    }

    /// <summary>Query heads (<see cref="AttentionShape.Heads"/>).</summary>
    public readonly int Heads;

    /// <summary>Key/value heads (<see cref="AttentionShape.KvHeads"/>).</summary>
    public readonly int KvHeads;

    /// <summary>1: query i of a sequence (after L cached tokens) sees keys 0..L + i; 0: every key of its sequence.</summary>
    public readonly int Causal;

    /// <summary>1: rotate q as it is loaded (and new keys as the cache takes them).</summary>
    public readonly int Rope;

    /// <summary>1: keys are the call's own rows, normalised (qk_norm) and rotated (RoPE) as they load; 0: they come from a KV cache, already normalised and rotated.</summary>
    public readonly int RawKeys;

    /// <summary>Multiplies q·k before the softmax (<see cref="AttentionShape.Scale"/>).</summary>
    public readonly float Scale;
}
