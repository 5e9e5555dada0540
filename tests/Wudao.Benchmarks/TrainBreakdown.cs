using System;
using System.Diagnostics;
using System.Linq;

namespace Wudao.Benchmarks;

/// <summary>
/// One training step of the benchmark layer on the native target (forward keeping the tape,
/// backward, AdamW), split by kernel from the kernels' own counters, with the backward GEMMs'
/// GFLOP/s beside the fp32 FMA peak measured in the same run.
/// </summary>
public static class TrainBreakdown
{
    public static void Print(int steps)
    {
        using var session = Session.Create(DeviceKind.Native);
        using var layer = BenchLayer.Create(session, seed: 1);
        const int t = BenchLayer.Tokens;
        const int d = 512;
        var rng = new Random(3);
        var host = Enumerable.Range(0, t * d).Select(_ => (float)((rng.NextDouble() * 2) - 1)).ToArray();
        var grad = Enumerable.Range(0, t * d).Select(_ => (float)((rng.NextDouble() * 2) - 1) * 1e-3f).ToArray();
        using var x = session.Upload(host, t, d);
        using var dOut = session.Upload(grad, t, d);
        layer.RequiresGrad = true;
        var optimizer = layer.CreateOptimizer(new AdamW(lr: 1e-4f));
        double forward = 0, backward = 0, update = 0;
        void Step(bool measure)
        {
            var s0 = Stopwatch.GetTimestamp();
            layer.Forward(x).Dispose();
            var s1 = Stopwatch.GetTimestamp();
            layer.Backward(dOut).Dispose();
            var s2 = Stopwatch.GetTimestamp();
            optimizer.Step();
            var s3 = Stopwatch.GetTimestamp();
            if (measure)
            {
                forward += (s1 - s0) * 1000.0 / Stopwatch.Frequency;
                backward += (s2 - s1) * 1000.0 / Stopwatch.Frequency;
                update += (s3 - s2) * 1000.0 / Stopwatch.Frequency;
            }
        }

        for (var i = 0; i < 3; i++)
        {
            Step(false);
        }

        var kernels = layer.NativeBackwardKernels!;
        var before = kernels.ElapsedTicks.ToArray();
        for (var i = 0; i < steps; i++)
        {
            Step(true);
        }

        var repack = Stopwatch.StartNew();
        for (var i = 0; i < steps; i++)
        {
            layer.WeightsChanged();
        }

        var repackMs = repack.Elapsed.TotalMilliseconds / steps;
        var ms = kernels.ElapsedTicks.Select((v, i) => (v - before[i]) * 1000.0 / Stopwatch.Frequency / steps).ToArray();
        var gemmFlops = 2.0 * t * 2 * d * 2048;
        var peakWatch = Stopwatch.StartNew();
        FmaPeak.Run(gemmFlops);
        var peak = gemmFlops / peakWatch.Elapsed.TotalSeconds / 1e9;
        Console.WriteLine();
        Console.WriteLine($"Training step breakdown, native CPU, T={t} d=512 E=16 k=2 h=2048, AdamW, mean of {steps} steps ({session.DeviceName})");
        Console.WriteLine($"  fp32 FMA peak (same run): {peak:F0} GFLOP/s");
        Console.WriteLine($"  forward (keeps the tape) {forward / steps,8:F1} ms");
        Console.WriteLine($"  backward                 {backward / steps,8:F1} ms");
        Console.WriteLine($"  AdamW step               {update / steps,8:F1} ms (of which repacking the weights' GEMM panels {repackMs:F1} ms)");
        for (var k = 0; k < ms.Length; k++)
        {
            Console.WriteLine($"    k{k} {kernels.Roles[k],-13} {ms[k],8:F2} ms");
        }

        // Each of the four expert GEMMs of the backward (two dX, two dW) is T·k·d·h multiply-adds.
        var gemm = kernels.Roles.Select((r, i) => (r, i)).Where(p => p.r is "d_expert_ffn" || (p.r == "wgrad" && ms[p.i] > 5)).Sum(p => ms[p.i]);
        var rate = 4 * gemmFlops / (gemm / 1000) / 1e9;
        Console.WriteLine($"  backward expert GEMMs: {gemm:F1} ms, {rate:F0} GFLOP/s = {rate / peak:P0} of peak");
    }
}
