using System;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Benchmarks;

/// <summary>
/// MoE layer forward, T = 4096, d = 512, E = 16, k = 2, h = 2048, fp32, all in one run:
/// Wudao's native CPU target against libtorch doing the same layer, a dense FFN with the same
/// rows (T·k) and widths (the expert GEMMs' ceiling), and a plain GEMM (the machine's ceiling).
/// </summary>
[MemoryDiagnoser]
public class MoeLayerBenchmarks
{
    private Session _session = null!;
    private BenchLayer _wudao = null!;
    private DeviceTensor _x = null!;
    private TorchMoeLayer _torch = null!;
    private Tensor _tx = null!;
    private Tensor _rows = null!;
    private Tensor _w1 = null!;
    private Tensor _w2 = null!;
    private Tensor _b1 = null!;
    private Tensor _b2 = null!;

    /// <summary>Useful FLOPs of the expert FFN: T·k rows through two d×h GEMMs.</summary>
    public static double ExpertFlops => 2.0 * BenchLayer.Tokens * 2 * 512 * 2048 * 2;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _session = Session.Create(DeviceKind.Native);
        _wudao = BenchLayer.Create(_session, seed: 1);
        var rng = new Random(3);
        var host = new float[BenchLayer.Tokens * 512];
        for (var i = 0; i < host.Length; i++)
        {
            host[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        _x = _session.Upload(host, BenchLayer.Tokens, 512);
        _torch = new TorchMoeLayer(BenchLayer.Info, _wudao.Weights);
        _tx = tensor(host, new long[] { BenchLayer.Tokens, 512 });
        _rows = randn(BenchLayer.Tokens * 2, 512);
        _w1 = randn(512, 2048);
        _b1 = randn(2048);
        _w2 = randn(2048, 512);
        _b2 = randn(512);
    }

    [Benchmark(Baseline = true, Description = "TorchSharp MoE layer")]
    public void TorchMoe()
    {
        using var y = _torch.Forward(_tx);
    }

    [Benchmark(Description = "Wudao MoE layer (native CPU)")]
    public void WudaoMoe()
    {
        using var result = _wudao.Forward(_x);
    }

    [Benchmark(Description = "TorchSharp dense FFN, T*k rows (expert GEMM ceiling)")]
    public void TorchDenseFfn()
    {
        using var scope = NewDisposeScope();
        _ = nn.functional.gelu(_rows.mm(_w1) + _b1).mm(_w2) + _b2;
    }

    /// <summary>The expert FFN's FLOPs as pure FMAs on all threads: its time over a row's time is that row's fraction of peak.</summary>
    [Benchmark(Description = "fp32 FMA peak, same FLOPs as the experts (Vector512, all threads)")]
    public float Peak() => FmaPeak.Run(ExpertFlops);

    [Benchmark(Description = "TorchSharp GEMM 8192x512x2048 (machine ceiling)")]
    public void TorchGemm()
    {
        using var y = _rows.mm(_w1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _wudao.Dispose();
        _x.Dispose();
        _session.Dispose();
        _torch.Dispose();
        _tx.Dispose();
        _rows.Dispose();
        _w1.Dispose();
        _w2.Dispose();
        _b1.Dispose();
        _b2.Dispose();
    }
}
