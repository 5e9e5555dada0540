using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Wudao.Models;

namespace Wudao.Benchmarks;

/// <summary>The example model (examples/TinyMoeLm), declared again here: the harness measures what the example runs.</summary>
[MoeTransformer(Vocab = 4096, Dim = 256, Layers = 4, MaxSequence = 1024, Norm = Norm.RmsNorm)]
[Attention(Heads = 8, KvHeads = 2, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 8, TopK = 2, Hidden = 512, Activation = Activation.SwiGlu, Every = 2)]
[Router(RouterKind.TopK)]
public partial class BenchLm
{
}

/// <summary>
/// Greedy decoding of the example model on the native target: a 32-token prompt (prefill), then
/// 32 tokens one at a time through the KV caches. Tokens/s = 32 / mean.
/// </summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    public const int NewTokens = 32;

    private readonly int[] _prompt = Enumerable.Range(0, 32).Select(i => (i * 97 + 13) % 4096).ToArray();
    private Session _session = null!;
    private BenchLm _lm = null!;

    [GlobalSetup]
    public void Setup()
    {
        _session = Session.Create(DeviceKind.Native);
        _lm = BenchLm.Create(_session, seed: 1);
    }

    [Benchmark(Description = "Wudao TinyMoeLm: prefill 32 + decode 32 tokens (greedy)")]
    public int[] Decode() => _lm.Generate(_prompt, NewTokens, Sampling.Greedy);

    [Benchmark(Description = "Wudao TinyMoeLm: prefill 32 tokens")]
    public float[] Prefill()
    {
        _lm.Reset();
        return _lm.Step(_prompt);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lm.Dispose();
        _session.Dispose();
    }
}
