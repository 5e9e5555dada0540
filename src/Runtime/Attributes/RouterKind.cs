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

    /// <summary>
    /// Noisy top-k (Shazeer 2017): H = xW_g + ε·softplus(xW_noise), ε ~ N(0,1) from the seeded
    /// counter RNG; gates = softmax over the k largest H. Losses <c>importance</c> and <c>load</c>
    /// (CV² of each, weighted by <see cref="RouterAttribute.ImportanceWeight"/> and <see cref="RouterAttribute.LoadWeight"/>).
    /// </summary>
    NoisyTopK = 3,

    /// <summary>
    /// Expert choice (Zhou 2022): every expert takes its top C = ceil(c·T/E) tokens by softmax score
    /// (c = CapacityFactor, 2 by default); a token may get 0..E experts. Do not declare TopK.
    /// </summary>
    ExpertChoice = 4,

    /// <summary>
    /// Hash routing (Roller 2021): expert = hash(token id) mod E, gate 1, no router weights. Needs
    /// token ids: declare <see cref="RouterAttribute.Vocab"/> and call <c>Forward(x, tokenIds)</c>. TopK = 1.
    /// </summary>
    Hash = 5,

    /// <summary>
    /// DeepSeek-V3: sigmoid scores, top-k chosen on score + a per-expert balancing bias, gates the
    /// chosen scores normalised without the bias, plus <see cref="RouterAttribute.SharedExperts"/>
    /// always-on experts. The bias moves by <c>UpdateBalanceBias</c> after each step (aux-loss-free balancing).
    /// </summary>
    DeepSeek = 6,
}
