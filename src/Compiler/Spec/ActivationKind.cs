namespace Wudao.Compiler.Spec;

/// <summary>Expert activation. Values match <c>Wudao.Activation</c> in the runtime.</summary>
public enum ActivationKind
{
    Gelu = 0,
    Relu = 1,
    Silu = 2,
    SwiGlu = 3,
}
