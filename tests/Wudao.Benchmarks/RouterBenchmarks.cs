using System;
using BenchmarkDotNet.Attributes;

namespace Wudao.Benchmarks;

[MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048)]
[Router(RouterKind.NoisyTopK)]
public partial class BenchNoisy
{
}

[MoeLayer(Dim = 512, Experts = 16, Hidden = 2048)]
[Router(RouterKind.ExpertChoice, CapacityFactor = 2f)]
public partial class BenchExpertChoice
{
}

[MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048)]
[Router(RouterKind.DeepSeek, SharedExperts = 1)]
public partial class BenchDeepSeek
{
}

/// <summary>
/// The benchmark layer's sizes (T = 4096, d = 512, E = 16, h = 2048) under each router on the native
/// target: what a router costs beyond top-2 softmax routing. Expert choice with c = 2 runs as many
/// expert rows as top-2; DeepSeek runs T more rows through its shared expert.
/// </summary>
[MemoryDiagnoser]
public class RouterBenchmarks
{
    private Session _session = null!;
    private DeviceTensor _x = null!;
    private BenchLayer _topK = null!;
    private BenchNoisy _noisy = null!;
    private BenchExpertChoice _choice = null!;
    private BenchDeepSeek _deepSeek = null!;

    [GlobalSetup]
    public void Setup()
    {
        _session = Session.Create(DeviceKind.Native);
        var rng = new Random(3);
        var host = new float[BenchLayer.Tokens * 512];
        for (var i = 0; i < host.Length; i++)
        {
            host[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        _x = _session.Upload(host, BenchLayer.Tokens, 512);
        _topK = BenchLayer.Create(_session, seed: 1);
        _noisy = BenchNoisy.Create(_session, seed: 1);
        _choice = BenchExpertChoice.Create(_session, seed: 1);
        _deepSeek = BenchDeepSeek.Create(_session, seed: 1);
    }

    [Benchmark(Baseline = true, Description = "TopK (k=2)")]
    public void TopK()
    {
        using var r = _topK.Forward(_x);
    }

    [Benchmark(Description = "NoisyTopK (k=2)")]
    public void Noisy()
    {
        using var r = _noisy.Forward(_x);
    }

    [Benchmark(Description = "ExpertChoice (c=2)")]
    public void ExpertChoice()
    {
        using var r = _choice.Forward(_x);
    }

    [Benchmark(Description = "DeepSeek (k=2 + 1 shared)")]
    public void DeepSeek()
    {
        using var r = _deepSeek.Forward(_x);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _topK.Dispose();
        _noisy.Dispose();
        _choice.Dispose();
        _deepSeek.Dispose();
        _x.Dispose();
        _session.Dispose();
    }
}
