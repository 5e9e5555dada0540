using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao.Oracle.Tests;

// The declared layers the oracle checks. Together they cover Dim 96 and 200 (neither a multiple
// of the 64-wide hidden chunk nor of the 8-row tile), E = 1, 3, 8, 64, k = 1..4, every
// activation, every router, default, explicit and overflowing (factor 0.5) capacities. Hidden
// stays small: ILGPU's CPU accelerator simulates every GPU thread.

[MoeLayer(Dim = 96, Experts = 8, TopK = 1, Hidden = 40, Activation = Activation.Gelu)]
public partial class OracleTopK1Gelu
{
}

[MoeLayer(Dim = 200, Experts = 64, TopK = 2, Hidden = 16, Activation = Activation.Relu, AuxLossWeight = 0.05f)]
[Router(RouterKind.TopK)]
public partial class OracleTopK2Relu
{
}

[MoeLayer(Dim = 96, Experts = 3, TopK = 3, Hidden = 48, Activation = Activation.Silu)]
[Router(RouterKind.TopK, CapacityFactor = 0.5f)]
public partial class OracleTopK3SiluOverflow
{
}

[MoeLayer(Dim = 200, Experts = 8, TopK = 4, Hidden = 24, Activation = Activation.SwiGlu)]
[Router(RouterKind.TopK)]
public partial class OracleTopK4SwiGlu
{
}

[MoeLayer(Dim = 96, Experts = 8, TopK = 2, Hidden = 36, Activation = Activation.GeGlu)]
[Router(RouterKind.TopK)]
public partial class OracleTopK2GeGlu
{
}

[MoeLayer(Dim = 96, Experts = 64, TopK = 4, Hidden = 8, Activation = Activation.Gelu)]
[Router(RouterKind.TopK, CapacityFactor = 1.0f)]
public partial class OracleTopK4GeluTight
{
}

[MoeLayer(Dim = 200, Experts = 1, TopK = 1, Hidden = 20, Activation = Activation.Relu)]
public partial class OracleSingleExpertRelu
{
}

[MoeLayer(Dim = 200, Experts = 8, TopK = 1, Hidden = 32, Activation = Activation.Silu, AuxLossWeight = 0.1f)]
[Router(RouterKind.Switch)]
public partial class OracleSwitchSilu
{
}

[MoeLayer(Dim = 96, Experts = 64, TopK = 1, Hidden = 12, Activation = Activation.Gelu)]
[Router(RouterKind.Switch, CapacityFactor = 0.5f)]
public partial class OracleSwitchGeluOverflow
{
}

[MoeLayer(Dim = 96, Experts = 8, TopK = 2, Hidden = 64, Activation = Activation.Gelu)]
[Router(RouterKind.GShard)]
public partial class OracleGShardGelu
{
}

[MoeLayer(Dim = 200, Experts = 3, TopK = 2, Hidden = 20, Activation = Activation.SwiGlu)]
[Router(RouterKind.GShard, CapacityFactor = 0.5f)]
public partial class OracleGShardSwiGluOverflow
{
}

// Tiny layers for the gradient oracle's finite-difference checks (TorchMoeGradientTests): small
// enough to perturb every element, smooth activations (no ReLU kink for a difference to straddle),
// a weighty aux loss so its gradient is visible, and overflowing capacities so drops are covered.
// Not in All: the forward oracle does not run them.

[MoeLayer(Dim = 6, Experts = 4, TopK = 2, Hidden = 5, Activation = Activation.SwiGlu, AuxLossWeight = 0.5f)]
[Router(RouterKind.TopK)]
public partial class GradTopK2SwiGlu
{
}

[MoeLayer(Dim = 6, Experts = 4, TopK = 1, Hidden = 5, Activation = Activation.Silu, AuxLossWeight = 0.5f)]
[Router(RouterKind.Switch, CapacityFactor = 1.0f)]
public partial class GradSwitchSilu
{
}

[MoeLayer(Dim = 6, Experts = 4, TopK = 2, Hidden = 5, Activation = Activation.Gelu, AuxLossWeight = 0.5f)]
[Router(RouterKind.GShard, CapacityFactor = 0.5f)]
public partial class GradGShardGeluOverflow
{
}

/// <summary>The oracle layers by name, so theories range over all of them.</summary>
public static class OracleLayers
{
    /// <summary>Each layer with its seed (weights and routing RNG; distinct, so layers of equal shape still differ) and a factory.</summary>
    public static readonly IReadOnlyDictionary<string, (MoeLayerInfo Info, ulong Seed, Func<Session, MoeWeights, ulong, IMoeLayer> Create)> All =
        new Dictionary<string, (MoeLayerInfo, ulong, Func<Session, MoeWeights, ulong, IMoeLayer>)>
        {
            [nameof(OracleTopK1Gelu)] = (OracleTopK1Gelu.Info, 12, (s, w, r) => OracleTopK1Gelu.Create(s, w, r)),
            [nameof(OracleTopK2Relu)] = (OracleTopK2Relu.Info, 13, (s, w, r) => OracleTopK2Relu.Create(s, w, r)),
            [nameof(OracleTopK3SiluOverflow)] = (OracleTopK3SiluOverflow.Info, 14, (s, w, r) => OracleTopK3SiluOverflow.Create(s, w, r)),
            [nameof(OracleTopK4SwiGlu)] = (OracleTopK4SwiGlu.Info, 15, (s, w, r) => OracleTopK4SwiGlu.Create(s, w, r)),
            [nameof(OracleTopK2GeGlu)] = (OracleTopK2GeGlu.Info, 22, (s, w, r) => OracleTopK2GeGlu.Create(s, w, r)),
            [nameof(OracleTopK4GeluTight)] = (OracleTopK4GeluTight.Info, 16, (s, w, r) => OracleTopK4GeluTight.Create(s, w, r)),
            [nameof(OracleSingleExpertRelu)] = (OracleSingleExpertRelu.Info, 17, (s, w, r) => OracleSingleExpertRelu.Create(s, w, r)),
            [nameof(OracleSwitchSilu)] = (OracleSwitchSilu.Info, 18, (s, w, r) => OracleSwitchSilu.Create(s, w, r)),
            [nameof(OracleSwitchGeluOverflow)] = (OracleSwitchGeluOverflow.Info, 19, (s, w, r) => OracleSwitchGeluOverflow.Create(s, w, r)),
            [nameof(OracleGShardGelu)] = (OracleGShardGelu.Info, 20, (s, w, r) => OracleGShardGelu.Create(s, w, r)),
            [nameof(OracleGShardSwiGluOverflow)] = (OracleGShardSwiGluOverflow.Info, 21, (s, w, r) => OracleGShardSwiGluOverflow.Create(s, w, r)),
        };

    /// <summary>Token counts: none, one, one that fits no tile or group, and enough to overflow capacities.</summary>
    public static readonly int[] TokenCounts = { 0, 1, 17, 1000 };

    /// <summary>Where generated layers run: the GPU kernels on ILGPU's CPU accelerator, and the native CPU target.</summary>
    public static readonly DeviceKind[] Targets = { DeviceKind.Cpu, DeviceKind.Native };

    public static IEnumerable<object[]> NamesTokensAndTargets =>
        All.Keys.SelectMany(k => TokenCounts.SelectMany(t => Targets.Select(d => new object[] { k, t, d })));
}
