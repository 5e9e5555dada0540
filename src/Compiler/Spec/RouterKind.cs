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

    /// <summary>Noisy top-k with CV² importance and load losses (Shazeer 2017).</summary>
    NoisyTopK = 3,

    /// <summary>Experts choose their top-C tokens (Zhou 2022).</summary>
    ExpertChoice = 4,

    /// <summary>Expert = hash(token id) (Roller 2021).</summary>
    Hash = 5,

    /// <summary>Sigmoid scores, bias-balanced top-k, shared experts (DeepSeek-V3).</summary>
    DeepSeek = 6,
}
