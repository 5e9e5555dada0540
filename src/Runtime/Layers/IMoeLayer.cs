using System;

namespace Wudao;

/// <summary>What every generated MoE layer offers.</summary>
public interface IMoeLayer : ITrainable, IDisposable
{
    /// <summary>The layer as declared: sizes, router, weight specs.</summary>
    MoeLayerInfo Info { get; }

    /// <summary>The layer's weights, by name.</summary>
    new MoeWeights Weights { get; }

    /// <summary>Counter of the routing RNG; each forward call uses it, then increments it.</summary>
    int Step { get; set; }

    /// <summary>True (default): routing draws its random numbers (noisy top-k's noise, Switch jitter, GShard's second-expert drop); false: inference.</summary>
    bool Training { get; set; }

    /// <remarks>A hash-routed layer throws <see cref="System.InvalidOperationException"/> here: it routes by token id, through its generated <c>Forward(x, tokenIds)</c>.</remarks>
    MoeResult Forward(DeviceTensor x);

    /// <summary>True: each Forward keeps what <see cref="Backward"/> reads, until Backward or the next Forward. Setting it throws, naming why, on a layer that cannot train yet.</summary>
    bool RequiresGrad { get; set; }

    /// <summary>The loss's gradient with respect to each weight, by name, added to by every <see cref="Backward"/>.</summary>
    new MoeWeights Gradients { get; }

    /// <summary>Backpropagates the last Forward: returns dL/dx and adds each weight's gradient into <see cref="Gradients"/>; the auxiliary losses count with weight <paramref name="auxLossWeight"/>.</summary>
    DeviceTensor Backward(DeviceTensor dOutput, float auxLossWeight = 1f);

    /// <summary>Sets every gradient to zero.</summary>
    void ZeroGradients();
}
