using System;

namespace Wudao;

/// <summary>Chooses the router of a <see cref="MoeLayerAttribute"/> layer. Without it the layer uses <see cref="RouterKind.TopK"/>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class RouterAttribute : Attribute
{
    public RouterAttribute(RouterKind kind)
    {
        Kind = kind;
    }

    public RouterKind Kind { get; }

    /// <summary>
    /// Capacity per expert = ceil(factor · tokens · k / E); choices past it are dropped and counted.
    /// 0 means dropless. Unset: 0 for TopK, 1.25 for Switch and GShard.
    /// </summary>
    public float CapacityFactor { get; set; }

    /// <summary>
    /// ε of the Switch Transformer's jitter: the router (not the experts) sees its input
    /// multiplied by U(1 − ε, 1 + ε), drawn from the counter-based RNG. 0 (default) for none.
    /// </summary>
    public float Jitter { get; set; }

    /// <summary>Weight of the router z-loss (1/T)·Σ_t (log Σ_e exp z_te)², reported as <c>router_z</c>. 0 (default) for none.</summary>
    public float ZLossWeight { get; set; }
}
