using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;

namespace Wudao.Benchmarks;

/// <summary>
/// Per-kernel times of the benchmark layer on the native target, from the kernels' own
/// counters, beside the memory copy bandwidth measured in the same run: the check that gate,
/// dispatch and combine (bandwidth-bound) run near the machine's copy speed, and the expert
/// FFN's GFLOP/s.
/// </summary>
public static class KernelBreakdown
{
    public static void Print(int calls)
    {
        using var session = Session.Create(DeviceKind.Native);
        using var layer = BenchLayer.Create(session, seed: 1);
        const int t = BenchLayer.Tokens;
        const int d = 512;
        var host = new float[t * d];
        new Random(3).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(host.AsSpan()));
        for (var i = 0; i < host.Length; i++)
        {
            host[i] = (host[i] % 1f) is var v && float.IsFinite(v) ? v : 0f;
        }

        using var x = session.Upload(host, t, d);

        // Enough calls for the JIT's tiering to finish: the measured calls run optimised code.
        for (var i = 0; i < 30; i++)
        {
            layer.Forward(x).Dispose();
        }

        System.Threading.Thread.Sleep(500);
        for (var i = 0; i < 5; i++)
        {
            layer.Forward(x).Dispose();
        }

        var kernels = layer.NativeKernels!;
        var before = kernels.ElapsedTicks.ToArray();
        for (var i = 0; i < calls; i++)
        {
            layer.Forward(x).Dispose();
        }

        var ms = kernels.ElapsedTicks.Select((v, i) => (v - before[i]) * 1000.0 / Stopwatch.Frequency / calls).ToArray();
        var copy = CopyBandwidth();

        // Bytes each bandwidth-bound kernel must move at the least (k = 2, d = 512, E = 16, fp32).
        double rows = 2.0 * t;
        var bytes = new (string Role, double Bytes)[]
        {
            ("gate", (t * d * 4.0) + (d * 16 * 4.0) + (t * 16 * 4.0) + (rows * 8)),
            ("dispatch", (rows * d * 4.0 * 2) + (rows * 8)),
            ("combine", (rows * d * 4.0) + (t * d * 4.0) + (rows * 12)),
        };
        Console.WriteLine();
        Console.WriteLine($"Kernel breakdown, native CPU, T={t} d=512 E=16 k=2 h=2048, mean of {calls} calls ({session.DeviceName})");
        Console.WriteLine($"  memory copy bandwidth (same run): {copy:F1} GB/s (bytes read + written)");
        double moved = 0, spent = 0;
        for (var k = 0; k < ms.Length; k++)
        {
            var role = kernels.Roles[k];
            var line = $"  k{k} {role,-11} {ms[k],8:F2} ms";
            var b = bytes.FirstOrDefault(x => x.Role == role);
            if (b.Role != null)
            {
                var gbs = b.Bytes / (ms[k] / 1000) / 1e9;
                line += $"  {gbs,6:F1} GB/s = {gbs / copy:P0} of copy";
                moved += b.Bytes;
                spent += ms[k];
            }
            else if (role == "expert_ffn")
            {
                line += $"  {MoeLayerBenchmarks.ExpertFlops / (ms[k] / 1000) / 1e9,6:F1} GFLOP/s";
            }

            Console.WriteLine(line);
        }

        var all = moved / (spent / 1000) / 1e9;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  gate + dispatch + combine: {all:F1} GB/s = {all / copy:P0} of the copy bandwidth"));
    }

    /// <summary>Best of several 64 MiB copies, in GB/s counting bytes read plus written.</summary>
    private static double CopyBandwidth()
    {
        var src = new float[16 << 20];
        var dst = new float[16 << 20];
        src.AsSpan().Fill(1f);
        var best = double.MaxValue;
        for (var i = 0; i < 10; i++)
        {
            var s = Stopwatch.GetTimestamp();
            src.AsSpan().CopyTo(dst);
            best = Math.Min(best, Stopwatch.GetElapsedTime(s).TotalSeconds);
        }

        return 2.0 * src.Length * 4 / best / 1e9;
    }
}
