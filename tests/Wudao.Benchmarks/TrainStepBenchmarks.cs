using System;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Benchmarks;

/// <summary>
/// One training step of the benchmark MoE layer (T = 4096, d = 512, E = 16, k = 2, h = 2048,
/// fp32): forward, backward of L = Σ y·dY, AdamW. Wudao's native target against libtorch's autograd
/// doing the same layer, with the same threads, in one run; and the step's GEMM FLOPs (forward and
/// backward, 3× the forward's) as pure FMAs, so a row's time over it is its fraction of peak.
/// </summary>
[MemoryDiagnoser]
public class TrainStepBenchmarks
{
    private Session _session = null!;
    private BenchLayer _wudao = null!;
    private ParameterOptimizer _optimizer = null!;
    private DeviceTensor _x = null!;
    private DeviceTensor _dy = null!;
    private TorchMoeLayer _torch = null!;
    private torch.optim.Optimizer _torchOptimizer = null!;
    private Tensor _tx = null!;
    private Tensor _tdy = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _session = Session.Create(DeviceKind.Native);
        _wudao = BenchLayer.Create(_session, seed: 1);
        _wudao.RequiresGrad = true;
        _optimizer = _wudao.CreateOptimizer(new AdamW(lr: 1e-5f));
        var rng = new Random(3);
        var x = new float[BenchLayer.Tokens * 512];
        var dy = new float[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2) - 1);
            dy[i] = (float)((rng.NextDouble() * 2) - 1) * 1e-3f;
        }

        _x = _session.Upload(x, BenchLayer.Tokens, 512);
        _dy = _session.Upload(dy, BenchLayer.Tokens, 512);
        _torch = new TorchMoeLayer(BenchLayer.Info, _wudao.Weights, trainable: true);
        _torchOptimizer = torch.optim.AdamW(_torch.Parameters, 1e-5);
        _tx = tensor(x, new long[] { BenchLayer.Tokens, 512 });
        _tdy = tensor(dy, new long[] { BenchLayer.Tokens, 512 });
    }

    [Benchmark(Baseline = true, Description = "TorchSharp autograd: forward + backward + AdamW")]
    public void Torch()
    {
        using var scope = NewDisposeScope();
        _torchOptimizer.zero_grad();
        var y = _torch.Forward(_tx);
        (y * _tdy).sum().backward();
        _torchOptimizer.step();
    }

    [Benchmark(Description = "Wudao native: forward + backward + AdamW")]
    public OptimizerStepStats Wudao()
    {
        _wudao.Forward(_x).Dispose();
        _wudao.Backward(_dy).Dispose();
        return _optimizer.Step();
    }

    [Benchmark(Description = "fp32 FMA peak, the step's GEMM FLOPs (3x forward experts)")]
    public float Peak() => FmaPeak.Run(3 * MoeLayerBenchmarks.ExpertFlops);

    [GlobalCleanup]
    public void Cleanup()
    {
        _wudao.Dispose();
        _x.Dispose();
        _dy.Dispose();
        _session.Dispose();
        _torch.Dispose();
        _tx.Dispose();
        _tdy.Dispose();
    }
}
