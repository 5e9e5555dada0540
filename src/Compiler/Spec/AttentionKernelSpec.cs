namespace Wudao.Compiler.Spec;

/// <summary>A standalone attention kernel declaration: where it goes and its head dimension.</summary>
public sealed record AttentionKernelSpec(string Namespace, string ClassName, string Accessibility, bool IsStatic, int HeadDim)
{
    /// <summary>The declaration's errors; none when it can be emitted.</summary>
    public string? Error => HeadDim > 0 && HeadDim % ModelSpec.HeadDimMultiple == 0
        ? null
        : $"HeadDim = {HeadDim} must be a positive multiple of {ModelSpec.HeadDimMultiple}: the attention kernels work in whole 256-bit vectors";
}
