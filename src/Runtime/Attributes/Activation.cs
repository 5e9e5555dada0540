namespace Wudao;

/// <summary>Activation of the expert feed-forward network.</summary>
public enum Activation
{
    /// <summary>GELU with exact erf (PyTorch's default).</summary>
    Gelu = 0,

    /// <summary>max(0, x).</summary>
    Relu = 1,

    /// <summary>x·sigmoid(x).</summary>
    Silu = 2,

    /// <summary>silu(x·W_gate)·(x·W_up): the first weight holds both halves, [gate | up].</summary>
    SwiGlu = 3,

    /// <summary>gelu(x·W_gate)·(x·W_up) (Gemma, T5 v1.1): the first weight holds both halves, [gate | up].</summary>
    GeGlu = 4,
}
