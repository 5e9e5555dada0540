namespace Wudao;

/// <summary>How tokens choose experts.</summary>
public enum RouterKind
{
    /// <summary>Softmax, top-k (k = 1..4), gates renormalised over the chosen k (Mixtral). Dropless by default.</summary>
    TopK = 0,

    /// <summary>Top-1, gate = router probability, capacity factor 1.25 by default (Switch Transformer).</summary>
    Switch = 1,

    /// <summary>Top-2, renormalised, second expert kept with probability min(1, 2·g2), capacity 1.25 by default (GShard).</summary>
    GShard = 2,
}
