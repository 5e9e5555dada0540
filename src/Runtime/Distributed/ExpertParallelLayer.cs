using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using ILGPU;

namespace Wudao.Distributed;

/// <summary>
/// Runs a generated MoE layer with its experts spread over the ranks of a communicator (rank p
/// owns experts p·E/N … (p+1)·E/N − 1), each rank holding its own slice of the global batch.
/// Per call: gate locally; all-gather the per-choice, per-expert counts; slot every choice at
/// its global position, so capacity drops exactly the choices one rank would drop; dispatch
/// into rows ordered by destination rank and expert (the send buffer); exchange counts, then
/// rows straight into expert-contiguous receive segments; run the local experts; send the rows
/// back into the send layout; combine. N ranks give the output, routing, counts and drops one
/// rank gives on the whole batch, bit for bit; the load-balancing and z losses agree to rounding
/// (their sums are added per rank, then across ranks).
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

    public ExpertParallelLayer(IMoeLayer layer, ICommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(comm);
        _layer = layer as IMoeStages ?? throw new ArgumentException($"{layer.GetType().Name} does not expose its stages (IMoeStages): expert parallelism runs the TopK, Switch and GShard routers", nameof(layer));
        _comm = comm;
        var e = layer.Info.Experts;
        if (e % comm.Size != 0)
        {
            throw new ArgumentException($"{layer.Info.Name}: {e} experts cannot be split evenly over {comm.Size} ranks; use a rank count that divides {e}", nameof(comm));
        }

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

    public int ExpertsPerRank { get; }

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
        var info = _layer.Info;
        int e = info.Experts, k = info.TopK, d = info.Dim, n = _comm.Size, rank = _comm.Rank, local = ExpertsPerRank;
        var t = MoeLayerRuntime.Tokens(x, info);

        // Token counts of all ranks: the global batch size sets the capacity; this rank's first
        // token's global index keeps the routing RNG draws those of one rank.
        var tokens = new int[n];
        var sendTokens = new int[n];
        Array.Fill(sendTokens, t);
        _comm.AllToAll(sendTokens, tokens);
        long total = 0;
        var tokenBase = 0;
        for (var r = 0; r < n; r++)
        {
            tokenBase += r < rank ? tokens[r] : 0;
            total += tokens[r];
        }

        var globalTokens = checked((int)total);
        var capacity = info.Capacity(globalTokens);
        var args = new LayerArgs(t, capacity, _layer.RoutingSeed, _layer.Step++, info.AuxLossWeight, tokenBase);
        var session = _layer.Session;
        using var scope = session.Pool.BeginScope();
        var probs = scope.F32((long)t * e);
        var experts = scope.I32((long)t * k);
        var gates = scope.F32((long)t * k);
        var slots = scope.I32((long)t * k);
        var meta = scope.I32(_layer.MetaLength);
        var rows = scope.F32((long)t * k * d);
        var y = scope.F32((long)t * k * d);
        var z = info.ZLossWeight > 0f;
        var lse = scope.F32(z ? t : 0);
        _layer.Gate(x.View, probs, experts, gates, lse, args);
        session.Accelerator.Synchronize();

        // All-gather each rank's [k][E] choice counts (and, after them, its count of tokens with a
        // NaN or an infinity), then slot every choice at its global position: choice-major, then
        // rank order, then token order, as one rank would.
        var chosen = Host(experts);
        var block = (k * e) + 1;
        var counts = new int[block];
        for (var c = 0; c < chosen.Length; c++)
        {
            if (chosen[c] >= 0)
            {
                counts[((c % k) * e) + chosen[c]]++;
            }
        }

        var rowsHost = Host(x.View.BaseView);
        for (var tt = 0; tt < t; tt++)
        {
            counts[k * e] += MoeLayerRuntime.FirstNonFinite(rowsHost.Slice(tt * d, d)) >= 0 ? 1 : 0;
        }

        var sendCounts = new int[n * block];
        var all = new int[n * block];
        for (var r = 0; r < n; r++)
        {
            counts.CopyTo(sendCounts, r * block);
        }

        _comm.AllToAll(sendCounts, all);
        var nonFinite = 0;
        for (var r = 0; r < n; r++)
        {
            nonFinite += all[(r * block) + (k * e)];
        }

        // A choice's global position: every rank's earlier choice columns (the demand counted so
        // far), then earlier ranks' same column, then this rank's earlier tokens.
        var next = new int[k * e];
        var demand = new int[e];
        for (var j = 0; j < k; j++)
        {
            for (var x2 = 0; x2 < e; x2++)
            {
                next[(j * e) + x2] = demand[x2];
                for (var r = 0; r < n; r++)
                {
                    var c = all[(r * block) + (j * e) + x2];
                    next[(j * e) + x2] += r < rank ? c : 0;
                    demand[x2] += c;
                }
            }
        }

        var sent = new int[e];
        var slotHost = Host(slots);
        for (var j = 0; j < k; j++)
        {
            for (var tt = 0; tt < t; tt++)
            {
                var c = (tt * k) + j;
                var ex = chosen[c];
                slotHost[c] = -1;
                if (ex >= 0)
                {
                    var pos = next[(j * e) + ex]++;
                    if (capacity == 0 || pos < capacity)
                    {
                        slotHost[c] = sent[ex]++;
                    }
                }
            }
        }

        var sendOffsets = new int[e];
        var sendRows = ExchangeLayout.Packed(sent, sendOffsets);
        var metaHost = Host(meta);
        metaHost.Clear();
        for (var x2 = 0; x2 < e; x2++)
        {
            metaHost[_layer.MetaOffsetsAt + x2] = sendOffsets[x2];
        }

        metaHost[_layer.MetaOffsetsAt + e] = sendRows;

        // Global statistics: kept and dropped from the global demand; the load-balancing loss
        // from the global first-choice shares and mean probabilities; the z-loss from the global
        // sum of squared log-sum-exps (each rank's in token order, as one rank sums them).
        var kept = new int[e];
        var dropped = 0;
        for (var x2 = 0; x2 < e; x2++)
        {
            kept[x2] = capacity > 0 && demand[x2] > capacity ? capacity : demand[x2];
            dropped += demand[x2] - kept[x2];
        }

        var probSums = new float[e + 1];
        var p = Host(probs);
        for (var tt = 0; tt < t; tt++)
        {
            for (var x2 = 0; x2 < e; x2++)
            {
                probSums[x2] += p[(tt * e) + x2];
            }
        }

        var l = Host(lse);
        for (var tt = 0; tt < l.Length; tt++)
        {
            probSums[e] += l[tt] * l[tt];
        }

        _comm.AllReduceSum(probSums);
        var aux = 0f;
        for (var x2 = 0; x2 < e && globalTokens > 0; x2++)
        {
            var first = 0;
            for (var r = 0; r < n; r++)
            {
                first += all[(r * block) + x2];
            }

            aux += first / (float)globalTokens * (probSums[x2] / globalTokens);
        }

        aux *= info.AuxLossWeight * e;
        var losses = new System.Collections.Generic.Dictionary<string, float> { ["load_balance"] = aux };
        if (z)
        {
            losses["router_z"] = globalTokens > 0 ? info.ZLossWeight * (probSums[e] / globalTokens) : 0f;
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
        return new MoeResult(output, new MoeStats(globalTokens, capacity, kept, dropped, losses, nonFinite));
    }

    /// <summary>A view of CPU memory as a span (the session keeps tensors in host memory).</summary>
    private static Span<T> Host<T>(ArrayView<T> view)
        where T : unmanaged => view.Length == 0 ? Span<T>.Empty : MemoryMarshal.CreateSpan(ref CpuMemory.Ref(view), checked((int)view.Length));
}
