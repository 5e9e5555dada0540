using System;

namespace Wudao;

/// <summary>What every generated MoE layer offers.</summary>
public interface IMoeLayer : IDisposable
{
    /// <summary>The layer as declared: sizes, router, weight specs.</summary>
    MoeLayerInfo Info { get; }

    /// <summary>The layer's weights, by name.</summary>
    MoeWeights Weights { get; }

    /// <summary>Counter of the routing RNG; each forward call uses it, then increments it.</summary>
    int Step { get; set; }

    /// <summary>True (default): routing draws its random numbers (noisy top-k's noise, Switch jitter, GShard's second-expert drop); false: inference.</summary>
    bool Training { get; set; }

    /// <remarks>A hash-routed layer throws <see cref="System.InvalidOperationException"/> here: it routes by token id, through its generated <c>Forward(x, tokenIds)</c>.</remarks>
    MoeResult Forward(DeviceTensor x);
}
