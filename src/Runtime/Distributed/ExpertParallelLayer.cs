using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using ILGPU;

namespace Wudao.Distributed;

/// <summary>
/// Runs a generated MoE layer with its experts spread over the ranks of a communicator (rank p
/// owns experts p·E/N … (p+1)·E/N − 1, shared experts placed like routed ones), each rank holding
/// its own slice of the global batch. Per call it runs the steps the plan's expert partition
/// prints: all-gather the token counts; gate locally; the route kernel's partials phase; all-gather
/// every rank's partials; the route's slot phase, which places every choice at its global
/// position (so capacity drops exactly the choices one rank would drop) and writes the global
/// statistics; dispatch into the send layout (rows ordered by destination rank and expert);
/// exchange counts, then rows straight into expert-contiguous receive segments; the local
/// experts; rows back; combine. N ranks give the output, routing, counts and drops one rank
/// gives on the whole batch, bit for bit; the losses agree to rounding (float sums per rank,
/// added in rank order). All token-choice routers run; expert choice does not (see the constructor).
/// </summary>
/// <remarks>
/// The exchanges go through host memory: the layer's session must keep its tensors in CPU
/// memory (the native target or ILGPU's CPU accelerator). A GPU session would need staging
/// copies or a device-side communicator (NCCL), which this runner does not do.
/// </remarks>
public sealed class ExpertParallelLayer
{
    private readonly IMoeStages _layer;
    private readonly ICommunicator _comm;

    /// <summary>Wraps <paramref name="layer"/> to run on the ranks of <paramref name="comm"/>; throws when the layer does not expose its stages (expert choice), its experts do not split evenly over the ranks, its session's tensors are not in CPU memory, or its declared rank count differs.</summary>
    public ExpertParallelLayer(IMoeLayer layer, ICommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(comm);
        _layer = layer as IMoeStages ?? throw new ArgumentException(
            $"{layer.GetType().Name} does not expose its stages (IMoeStages): expert parallelism runs the token-choice routers; under expert choice every expert ranks the whole global batch, which this runner does not exchange", nameof(layer));
        _comm = comm;

        // Shared experts (DeepSeek) are placed like routed ones: the last ranks own them.
        var e = layer.Info.FfnExperts;
        if (e % comm.Size != 0)
        {
            throw new ArgumentException($"{layer.Info.Name}: {e} experts cannot be split evenly over {comm.Size} ranks; use a rank count that divides {e}", nameof(comm));
        }

        Experts = e;

        if (_layer.Session.Accelerator.AcceleratorType != ILGPU.Runtime.AcceleratorType.CPU)
        {
            throw new NotSupportedException($"expert parallelism exchanges through host memory; the session runs on {_layer.Session.Kind}, whose tensors are not in CPU memory");
        }

        if (layer.Info.Ranks > 0 && layer.Info.Ranks != comm.Size)
        {
            throw new ArgumentException($"{layer.Info.Name} is declared with [ExpertParallel(Ranks = {layer.Info.Ranks})] but runs on {comm.Size} ranks", nameof(comm));
        }

        ExpertsPerRank = e / comm.Size;
        FirstExpert = comm.Rank * ExpertsPerRank;
    }

    /// <summary>Experts the layer's feed-forward kernels run (routed, then shared), over all ranks.</summary>
    public int Experts { get; }

    /// <summary>Experts each rank owns: <see cref="Experts"/> / ranks.</summary>
    public int ExpertsPerRank { get; }

    /// <summary>The first expert this rank owns: Rank · <see cref="ExpertsPerRank"/>.</summary>
    public int FirstExpert { get; }

    /// <summary>Time the last call spent in the two row exchanges.</summary>
    public TimeSpan LastExchangeTime { get; private set; }

    /// <summary>Rows this rank sent to each rank in the last call (the same rows come back).</summary>
    public int[] LastSentRows { get; private set; } = Array.Empty<int>();

    /// <summary>Rows this rank sent to each global expert in the last call, in send-buffer order.</summary>
    public int[] LastSentPerExpert { get; private set; } = Array.Empty<int>();

    /// <summary>Rows received in the last call per (source rank, local expert), rank-major.</summary>
    public int[] LastReceivedPerSegment { get; private set; } = Array.Empty<int>();

    /// <summary>Rows this rank received from each rank in the last call.</summary>
    public int[] LastReceivedRows { get; private set; } = Array.Empty<int>();

    /// <summary>Rows this rank's experts processed in the last call, per local expert.</summary>
    public int[] LastLocalLoad { get; private set; } = Array.Empty<int>();

    /// <summary>Runs this rank's tokens [t, Dim]; every rank must call it, in the same order. Statistics are global.</summary>
    public MoeResult Forward(DeviceTensor x)
    {
        if (_layer.Info.Router == RouterKind.Hash)
        {
            throw new InvalidOperationException($"{_layer.Info.Name} routes by token id (hash routing): call Forward(x, tokenIds)");
        }

        return Run(x, default);
    }

    /// <summary>Runs this rank's tokens [t, Dim] of a hash-routed layer, token t going to the expert its id <paramref name="tokenIds"/>[t] hashes to.</summary>
    public MoeResult Forward(DeviceTensor x, ReadOnlySpan<int> tokenIds) => Run(x, tokenIds);

    private MoeResult Run(DeviceTensor x, ReadOnlySpan<int> tokenIds)
    {
        var info = _layer.Info;
        int e = Experts, k = info.Choices, d = info.Dim, n = _comm.Size, rank = _comm.Rank, local = ExpertsPerRank;
        var t = MoeLayerRuntime.Tokens(x, info);

        // x0: token counts of all ranks. The global batch size sets the capacity; this rank's
        // first token's global index keeps the routing RNG draws those of one rank.
        var tokens = new int[n];
        AllGather(stackalloc[] { t }, tokens);
        long total = 0;
        var tokenBase = 0;
        for (var r = 0; r < n; r++)
        {
            tokenBase += r < rank ? tokens[r] : 0;
            total += tokens[r];
        }

        var globalTokens = checked((int)total);
        var capacity = _layer.Capacity(globalTokens);
        var args = new LayerArgs(t, capacity, _layer.RoutingSeed, _layer.Step++, tokenBase, _layer.Training);
        var session = _layer.Session;
        using var scope = session.Pool.BeginScope();
        var ids = info.Router == RouterKind.Hash ? MoeLayerRuntime.UploadTokenIds(session, scope, tokenIds, t, info.Options.Vocab) : default;
        var probs = scope.F32((long)t * e);
        var experts = scope.I32((long)t * k);
        var gates = scope.F32((long)t * k);
        var slots = scope.I32((long)t * k);
        var meta = scope.I32(_layer.MetaLength);
        var rows = scope.F32((long)t * k * d);
        var y = scope.F32((long)t * k * d);
        var lse = scope.F32(t);
        var pload = scope.F32(info.Router == RouterKind.NoisyTopK ? (long)t * e : 0);
        var gathered = scope.I32((long)n * _layer.PartialsLength);
        _layer.Gate(x.View, ids, probs, experts, gates, lse, pload, args);

        // The route kernel in two phases around x1, the all-gather of every rank's partials (its
        // choice counts per column and expert, non-finite tokens, loss sums): the slot phase then
        // places every choice at its global position, as one rank would, and every rank derives
        // the same global statistics.
        _layer.Route(x.View, probs, experts, gates, lse, pload, slots, meta, gathered, args.ForRoute(RoutePhase.Partials, rank, n));
        session.Accelerator.Synchronize();
        AllGather(Host(meta).Slice(_layer.PartialsAt, _layer.PartialsLength), Host(gathered));
        _layer.Route(x.View, probs, experts, gates, lse, pload, slots, meta, gathered, args.ForRoute(RoutePhase.Slots, rank, n));
        session.Accelerator.Synchronize();
        var metaHost = Host(meta);
        var stats = _layer.Statistics(metaHost, globalTokens, capacity);
        var sent = new int[e];
        var sendOffsets = new int[e];
        for (var x2 = 0; x2 < e; x2++)
        {
            sendOffsets[x2] = metaHost[_layer.MetaOffsetsAt + x2];
            sent[x2] = metaHost[_layer.MetaOffsetsAt + x2 + 1] - sendOffsets[x2];
        }

        // Send rows ordered by destination rank and expert; receive them expert-contiguously.
        _layer.Dispatch(x.View, experts, slots, meta, rows, args);
        session.Accelerator.Synchronize();
        var recvCounts = new int[n * local];
        _comm.AllToAll(sent, recvCounts);
        var recvOffsets = new int[n * local];
        var starts = new int[local + 1];
        var received = 0;
        string? problem = null;
        try
        {
            received = ExchangeLayout.ExpertMajor(recvCounts, local, recvOffsets, starts);
            problem = (long)received * d > int.MaxValue ? $"rank {rank} would receive {received} rows of {d} floats, more than one buffer indexes" : null;
        }
        catch (ArgumentException bad)
        {
            problem = $"rank {rank}: {bad.Message}";
        }

        // Agree before failing: a rank that stopped alone would leave the others waiting.
        var failed = new[] { problem != null ? 1 : 0 };
        _comm.AllReduceSum(failed);
        if (failed[0] > 0)
        {
            throw new InvalidOperationException($"{info.Name}: the routed rows do not fit on every rank ({problem ?? "another rank overflowed"}); use smaller batches per rank");
        }

        var expertRows = scope.F32((long)received * d);
        var expertOut = scope.F32((long)received * d);
        var watch = Stopwatch.StartNew();
        _comm.AllToAllV(Host(rows), sent, sendOffsets, Host(expertRows), recvCounts, recvOffsets, d);
        var exchange = watch.Elapsed;

        // Local experts: global expert ids outside this rank's range get no rows.
        var expertMeta = scope.I32(_layer.MetaLength);
        var em = Host(expertMeta);
        em.Clear();
        for (var x2 = 0; x2 <= e; x2++)
        {
            var j = Math.Clamp(x2 - FirstExpert, 0, local);
            em[_layer.MetaOffsetsAt + x2] = starts[j];
        }

        _layer.Experts(expertRows, expertMeta, expertOut, received);
        session.Accelerator.Synchronize();
        watch.Restart();
        _comm.AllToAllV(Host(expertOut), recvCounts, recvOffsets, Host(y), sent, sendOffsets, d);
        LastExchangeTime = exchange + watch.Elapsed;
        LastSentPerExpert = sent;
        LastReceivedPerSegment = recvCounts;
        LastSentRows = new int[n];
        LastReceivedRows = new int[n];
        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < local; j++)
            {
                LastSentRows[r] += sent[(r * local) + j];
                LastReceivedRows[r] += recvCounts[(r * local) + j];
            }
        }

        LastLocalLoad = new int[local];
        for (var j = 0; j < local; j++)
        {
            LastLocalLoad[j] = starts[j + 1] - starts[j];
        }

        var output = session.Pool.RentTensor(t, d);
        _layer.Combine(y, experts, gates, slots, meta, output.View, args);
        session.Accelerator.Synchronize();
        return new MoeResult(output, stats);
    }

    /// <summary>Every rank's <paramref name="mine"/>, rank-major, into <paramref name="all"/>: an all-to-all of the block repeated once per peer.</summary>
    private void AllGather(ReadOnlySpan<int> mine, Span<int> all)
    {
        var send = new int[_comm.Size * mine.Length];
        for (var r = 0; r < _comm.Size; r++)
        {
            mine.CopyTo(send.AsSpan(r * mine.Length));
        }

        _comm.AllToAll(send, all);
    }

    /// <summary>A view of CPU memory as a span (the session keeps tensors in host memory).</summary>
    private static Span<T> Host<T>(ArrayView<T> view)
        where T : unmanaged => view.Length == 0 ? Span<T>.Empty : MemoryMarshal.CreateSpan(ref CpuMemory.Ref(view), checked((int)view.Length));
}
