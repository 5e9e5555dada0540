namespace Wudao.Compiler.Spec;

/// <summary>
/// Expert activation, by the value of <c>Wudao.Activation</c> in the runtime; the registry's
/// <see cref="Ir.Activations"/> defines each (a test fails if the three disagree).
/// </summary>
public enum ActivationKind
{
    Gelu = 0,
    Relu = 1,
    Silu = 2,
    SwiGlu = 3,
    GeGlu = 4,
}
