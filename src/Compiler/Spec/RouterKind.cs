namespace Wudao.Compiler.Spec;

/// <summary>Routing algorithm. Values match <c>Wudao.RouterKind</c> in the runtime.</summary>
public enum RouterKind
{
    /// <summary>Softmax, top-k, renormalised over the chosen k (Mixtral).</summary>
    TopK = 0,

    /// <summary>Top-1 with capacity; the gate weight is the router probability (Switch Transformer).</summary>
    Switch = 1,

    /// <summary>Top-2 with capacity; the second expert is kept with probability min(1, 2·g2) (GShard).</summary>
    GShard = 2,
}
