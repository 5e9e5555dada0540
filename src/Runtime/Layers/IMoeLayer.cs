using System;

namespace Wudao;

/// <summary>What every generated MoE layer offers.</summary>
public interface IMoeLayer : IDisposable
{
    MoeLayerInfo Info { get; }

    MoeWeights Weights { get; }

    MoeResult Forward(DeviceTensor x);
}
