using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Wudao;
using Wudao.Distributed;

namespace ExpertParallel;

/// <summary>
/// The layer's two row exchanges (segments placed expert-contiguously, as the layer sends and
/// receives them) against a raw all-to-all-v (MPI_Alltoallv under mpirun) of the same rows per
/// peer, interleaved in one run, each after a barrier so neither pays for another rank's
/// compute. Also reported: the exchange time measured inside the layer, which includes waiting
/// for slower ranks. A plain timed loop, not BenchmarkDotNet: its adaptive iteration counts
/// would differ between ranks, and every call here is collective.
/// </summary>
internal static class ExchangeBenchmark
{
    private const int Calls = 20;

    public static int Run(ICommunicator comm, int tokensPerRank)
    {
        var info = EpMoe.Info;
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var layer = EpMoe.Create(session, seed: 42);
        var ep = new ExpertParallelLayer(layer, comm);
        var x = Inputs.Make(tokensPerRank * comm.Size * info.Dim);
        using var mine = session.Upload(x.AsSpan(comm.Rank * tokensPerRank * info.Dim, tokensPerRank * info.Dim), tokensPerRank, info.Dim);
        ep.Forward(mine).Dispose();
        // Sized for any routing: a rank sends at most t·k rows and receives at most N·t·k.
        var send = new float[Math.Max(1, tokensPerRank * info.TopK) * info.Dim];
        var recv = new float[Math.Max(1, tokensPerRank * info.TopK * comm.Size) * info.Dim];
        double inLayerSeconds = 0, layerSeconds = 0, rawSeconds = 0;
        var local = ep.ExpertsPerRank;
        for (var i = 0; i < Calls; i++)
        {
            ep.Forward(mine).Dispose();
            inLayerSeconds += ep.LastExchangeTime.TotalSeconds;

            // The layer's exchange, replayed: packed send segments, expert-major receive segments.
            var sent = ep.LastSentPerExpert;
            var received = ep.LastReceivedPerSegment;
            var sendOffsets = new int[sent.Length];
            ExchangeLayout.Packed(sent, sendOffsets);
            var recvOffsets = new int[received.Length];
            ExchangeLayout.ExpertMajor(received, local, recvOffsets, new int[local + 1]);
            comm.Barrier();
            var watch = Stopwatch.StartNew();
            comm.AllToAllV(send, sent, sendOffsets, recv, received, recvOffsets, info.Dim);
            comm.AllToAllV(recv, received, recvOffsets, send, sent, sendOffsets, info.Dim);
            layerSeconds += watch.Elapsed.TotalSeconds;

            comm.Barrier();
            watch.Restart();
            comm.AllToAllV(send, ep.LastSentRows, recv, ep.LastReceivedRows, info.Dim);
            comm.AllToAllV(recv, ep.LastReceivedRows, send, ep.LastSentRows, info.Dim);
            rawSeconds += watch.Elapsed.TotalSeconds;
        }

        // Bytes this rank sent and received per call, both directions of both exchanges.
        var bytes = 2.0 * (ep.LastSentRows.Sum() + ep.LastReceivedRows.Sum()) * info.Dim * sizeof(float);
        var times = new[] { (float)(layerSeconds / Calls), (float)(rawSeconds / Calls), (float)(inLayerSeconds / Calls) };
        comm.AllReduceSum(times);
        if (comm.Rank == 0)
        {
            var layerMs = times[0] / comm.Size * 1000;
            var rawMs = times[1] / comm.Size * 1000;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{comm}: {tokensPerRank} tokens per rank, d = {info.Dim}, {bytes / 1e6:F1} MB moved per rank per call, mean of {Calls} calls"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  layer exchanges (expert-contiguous segments): {layerMs:F3} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  raw all-to-all-v, same rows per peer:        {rawMs:F3} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  layer throughput / raw throughput: {rawMs / layerMs:F2}"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  (inside the layer, with waiting for slower ranks: {times[2] / comm.Size * 1000:F3} ms)"));
        }

        return 0;
    }
}
