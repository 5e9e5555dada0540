using System;

namespace Wudao;

/// <summary>What every generated MoE layer offers.</summary>
public interface IMoeLayer : IDisposable
{
    MoeLayerInfo Info { get; }

    MoeWeights Weights { get; }

    /// <summary>Counter of the routing RNG; each forward call uses it, then increments it.</summary>
    int Step { get; set; }

    MoeResult Forward(DeviceTensor x);
}
