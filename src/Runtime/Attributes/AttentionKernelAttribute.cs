using System;

namespace Wudao;

/// <summary>
/// Declares a standalone fused attention kernel on a <c>partial class</c>: Wudao's generator emits
/// its native kernel for <see cref="HeadDim"/> (a nested <c>Native</c> struct, run by static
/// <c>Forward</c> methods over packed sequences or a KV cache) and its ILGPU kernels (<c>Ilgpu</c>,
/// loaded by <c>Device(accelerator)</c>), with the head dimension a compile-time constant. Heads, kv heads, causal mask, RoPE and scale come from the
/// <c>AttentionShape</c> of each call. Models declare their attention with <see cref="AttentionAttribute"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class AttentionKernelAttribute : Attribute
{
    /// <summary>The head dimension: any positive multiple of 8.</summary>
    public int HeadDim { get; set; }
}
