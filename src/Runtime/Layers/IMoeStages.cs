using ILGPU;

namespace Wudao;

/// <summary>
/// The planned kernels of a generated layer, one call each, on buffers the caller owns. The
/// expert-parallel runner uses them to put exchanges between the stages; every target (ILGPU,
/// native CPU) implements them with the same kernels as <c>Forward</c>.
/// </summary>
/// <remarks>
/// The statistics block (<see cref="MetaLength"/> ints) carries the expert-contiguous row
/// offsets, E + 1 ints from <see cref="MetaOffsetsAt"/>: rows of expert e are
/// [offsets[e], offsets[e + 1]).
/// </remarks>
public interface IMoeStages : IMoeLayer
{
    Session Session { get; }

    /// <summary>The routing RNG's seed (GShard's second-expert draw).</summary>
    CounterSeed RoutingSeed { get; }

    int MetaLength { get; }

    int MetaOffsetsAt { get; }

    /// <summary>
    /// Router: probs [T,E], chosen experts and gate weights [T,k] for <c>args.Tokens</c> tokens, and
    /// for a layer with a z-loss (<see cref="MoeLayerInfo.ZLossWeight"/> &gt; 0) each token's
    /// log-sum-exp of its router logits [T] (others leave <paramref name="lse"/> alone; it may be empty).
    /// </summary>
    void Gate(ArrayView<float> x, ArrayView<float> probs, ArrayView<int> experts, ArrayView<float> gates, ArrayView<float> lse, LayerArgs args);

    /// <summary>Scatter: choice c of token t with slot s ≥ 0 goes to row offsets[expert] + s.</summary>
    void Dispatch(ArrayView<float> x, ArrayView<int> experts, ArrayView<int> slots, ArrayView<int> meta, ArrayView<float> rows, LayerArgs args);

    /// <summary>Expert FFN over every expert's rows; <paramref name="rowBound"/> bounds offsets[E].</summary>
    void Experts(ArrayView<float> rows, ArrayView<int> meta, ArrayView<float> y, int rowBound);

    /// <summary>Gather and gate-weighted sum of each token's kept rows.</summary>
    void Combine(ArrayView<float> y, ArrayView<int> experts, ArrayView<float> gates, ArrayView<int> slots, ArrayView<int> meta, ArrayView<float> output, LayerArgs args);
}
