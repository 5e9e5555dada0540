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
    /// <summary>The session the layer's kernels run on.</summary>
    Session Session { get; }

    /// <summary>The routing RNG's seed (GShard's second-expert draw).</summary>
    CounterSeed RoutingSeed { get; }

    /// <summary>Ints in the statistics (meta) block.</summary>
    int MetaLength { get; }

    /// <summary>Index in the meta block of the E + 1 expert-contiguous row offsets.</summary>
    int MetaOffsetsAt { get; }

    /// <summary>Where the route writes this rank's partials in the meta block, and their length in ints.</summary>
    int PartialsAt { get; }

    /// <summary>Ints of this rank's route partials in the meta block (from <see cref="PartialsAt"/>).</summary>
    int PartialsLength { get; }

    /// <summary>
    /// Router: chosen experts and gate weights [T,k] for <c>args.Tokens</c> tokens; what the route
    /// reads besides: the softmax routers' probs [T,E], for a layer with a z-loss
    /// (<see cref="MoeLayerInfo.ZLossWeight"/> &gt; 0) each token's log-sum-exp of its router
    /// logits [T], noisy top-k's load probabilities <paramref name="pload"/> [T,E]. Hash routing
    /// reads the token ids <paramref name="ids"/> [T]. A buffer the router does not use may be empty.
    /// </summary>
    void Gate(ArrayView<float> x, ArrayView<int> ids, ArrayView<float> probs, ArrayView<int> experts, ArrayView<float> gates, ArrayView<float> lse, ArrayView<float> pload, LayerArgs args);

    /// <summary>
    /// The route kernel, one <see cref="RoutePhase"/> (<c>args.Phase</c>) at a time. Partials: writes
    /// this rank's partials into <paramref name="meta"/> at <see cref="PartialsAt"/>. Slots: from
    /// <paramref name="gathered"/> [args.Ranks, PartialsLength] (every rank's partials, rank-major),
    /// writes each choice's slot in this rank's send layout, the send layout's offsets, and the
    /// global batch's kept rows, drops and losses into <paramref name="meta"/>.
    /// </summary>
    void Route(ArrayView<float> x, ArrayView<float> probs, ArrayView<int> experts, ArrayView<float> gates, ArrayView<float> lse, ArrayView<float> pload, ArrayView<int> slots, ArrayView<int> meta, ArrayView<int> gathered, LayerArgs args);

    /// <summary>The statistics a meta block holds after the route's slot phase, for <paramref name="tokens"/> tokens (the global batch).</summary>
    MoeStats Statistics(System.ReadOnlySpan<int> meta, int tokens, int capacity);

    /// <summary>Rows each routed expert may take for a batch of <paramref name="tokens"/> (0 = unlimited): the route's capacity op, compiled with its factor.</summary>
    int Capacity(int tokens);

    /// <summary>Scatter: choice c of token t with slot s ≥ 0 goes to row offsets[expert] + s.</summary>
    void Dispatch(ArrayView<float> x, ArrayView<int> experts, ArrayView<int> slots, ArrayView<int> meta, ArrayView<float> rows, LayerArgs args);

    /// <summary>Expert FFN over every expert's rows; <paramref name="rowBound"/> bounds offsets[E].</summary>
    void Experts(ArrayView<float> rows, ArrayView<int> meta, ArrayView<float> y, int rowBound);

    /// <summary>Gather and gate-weighted sum of each token's kept rows.</summary>
    void Combine(ArrayView<float> y, ArrayView<int> experts, ArrayView<float> gates, ArrayView<int> slots, ArrayView<int> meta, ArrayView<float> output, LayerArgs args);
}
