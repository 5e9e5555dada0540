using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Which forward values the backward graph recomputes instead of saving, and why. The default
/// recomputes activations (MegaBlocks): one elementwise pass over rows the backward reads anyway,
/// instead of holding a second copy of the widest tensor of the layer until backward runs.
/// </summary>
public sealed class RecomputePolicy
{
    public static readonly RecomputePolicy Default = new(true);

    /// <summary>Saves every value the backward reads: more memory, no recomputation.</summary>
    public static readonly RecomputePolicy SaveAll = new(false);

    private readonly bool _activations;

    private RecomputePolicy(bool activations) => _activations = activations;

    public bool Recompute(Node producer) => _activations && Ops.Get(producer.Op).Activation != null;

    public string Reason(Node producer, IReadOnlyDictionary<string, TensorType> types)
    {
        var operand = producer.Operands[0];
        return $"an activation: recomputed from %{operand} in one elementwise pass instead of holding {types[producer.Results[0]]} until backward (MegaBlocks)";
    }
}
