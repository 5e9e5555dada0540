using System;

namespace Wudao;

/// <summary>Chooses the router of a <see cref="MoeLayerAttribute"/> layer. Without it the layer uses <see cref="RouterKind.TopK"/>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class RouterAttribute : Attribute
{
    /// <summary>Chooses <paramref name="kind"/> as the layer's router.</summary>
    public RouterAttribute(RouterKind kind)
    {
        Kind = kind;
    }

    /// <summary>The layer's router.</summary>
    public RouterKind Kind { get; }

    /// <summary>
    /// Capacity per expert = ceil(factor · tokens · k / E); choices past it are dropped and counted.
    /// 0 means dropless. Unset: 0 for TopK, NoisyTopK, Hash and DeepSeek, 1.25 for Switch and GShard.
    /// For ExpertChoice it is c in C = ceil(c · tokens / E) tokens per expert (unset: 2).
    /// </summary>
    public float CapacityFactor { get; set; }

    /// <summary>
    /// ε of the Switch Transformer's jitter: the router (not the experts) sees its input
    /// multiplied by U(1 − ε, 1 + ε), drawn from the counter-based RNG. 0 (default) for none.
    /// </summary>
    public float Jitter { get; set; }

    /// <summary>Weight of the router z-loss (1/T)·Σ_t (log Σ_e exp z_te)², reported as <c>router_z</c>. 0 (default) for none.</summary>
    public float ZLossWeight { get; set; }

    /// <summary>NoisyTopK: weight of CV²(importance), reported as <c>importance</c>. Unset: 0.01.</summary>
    public float ImportanceWeight { get; set; }

    /// <summary>NoisyTopK: weight of CV²(load) with the smooth load estimator, reported as <c>load</c>. Unset: 0.01.</summary>
    public float LoadWeight { get; set; }

    /// <summary>
    /// DeepSeek: always-on experts every token goes through with gate 1 (stored after the routed ones).
    /// Unset: 1 (the generator's default; the property itself reads 0 when not set).
    /// </summary>
    public int SharedExperts { get; set; }

    /// <summary>DeepSeek: γ of the bias update b_i ← b_i − γ·sign(load_i − mean load). Unset: 0.001.</summary>
    public float BiasUpdateRate { get; set; }

    /// <summary>Hash: token ids are in [0, Vocab); required, since hash routing reads token ids.</summary>
    public int Vocab { get; set; }
}
