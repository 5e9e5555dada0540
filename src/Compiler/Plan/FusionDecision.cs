namespace Wudao.Compiler.Plan;

/// <summary>Why an op joined a kernel, or why it did not: every fusion choice carries its reason.</summary>
/// <param name="Fused">Whether the op joined the kernel.</param>
/// <param name="Kernel">The kernel considered (its index in the plan).</param>
/// <param name="Op">The op considered, as <c>%name = op</c>.</param>
/// <param name="Reason">Why.</param>
public sealed record FusionDecision(bool Fused, int Kernel, string Op, string Reason);
