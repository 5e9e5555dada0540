using System;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using Wudao.Attention;
using static TorchSharp.torch;

namespace Wudao.Benchmarks;

/// <summary>
/// Causal attention forward, batch 1, 8 heads, 1024 tokens, head dim 64, fp32: libtorch's
/// scaled_dot_product_attention (its fused CPU flash kernel) against Wudao's native kernel, which
/// also returns the log-sum-exp. Plus decode: one new token per step against a 1024-token cache,
/// 8 query heads sharing 2 kv heads (GQA).
/// </summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private const int Tokens = 1024;
    private const int Heads = 8;
    private const int Dim = 64;
    private const int KvHeads = 2;

    private readonly AttentionShape _shape = new(Heads, Heads, Dim, causal: true);
    private readonly AttentionShape _decodeShape = new(Heads, KvHeads, Dim, causal: true, rope: true);
    private readonly int[] _offsets = { 0, Tokens };
    private readonly int[] _one = { 0, 1 };
    private CpuWorkers _workers = null!;
    private float[] _q = null!;
    private float[] _k = null!;
    private float[] _v = null!;
    private float[] _out = null!;
    private float[] _lse = null!;
    private KvCache _cache = null!;
    private float[] _dq = null!;
    private float[] _dk = null!;
    private float[] _dv = null!;
    private float[] _dout = null!;
    private float[] _dlse = null!;
    private Tensor _tq = null!;
    private Tensor _tk = null!;
    private Tensor _tv = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(Environment.ProcessorCount);
        _workers = new CpuWorkers(Environment.ProcessorCount);
        var rng = new Random(5);
        _q = Random(rng, Tokens * Heads * Dim);
        _k = Random(rng, Tokens * Heads * Dim);
        _v = Random(rng, Tokens * Heads * Dim);
        _out = new float[_q.Length];
        _lse = new float[Tokens * Heads];

        // libtorch's layout is [batch, heads, tokens, dim]: the same data, transposed once here.
        _tq = tensor(_q, new long[] { 1, Tokens, Heads, Dim }).transpose(1, 2).contiguous();
        _tk = tensor(_k, new long[] { 1, Tokens, Heads, Dim }).transpose(1, 2).contiguous();
        _tv = tensor(_v, new long[] { 1, Tokens, Heads, Dim }).transpose(1, 2).contiguous();

        // A cache prefilled once with 1023 tokens; each decode call appends one token, attends over
        // all 1024, and is rolled back, so every call sees the same cache.
        _cache = new KvCache(1, Tokens, KvHeads, Dim);
        var pk = Random(rng, (Tokens - 1) * KvHeads * Dim);
        var pv = Random(rng, (Tokens - 1) * KvHeads * Dim);
        var pq = Random(rng, (Tokens - 1) * Heads * Dim);
        NativeAttention.Forward<Attention64.Native>(_decodeShape, _cache, pq, pk, pv, new float[pq.Length], new float[(Tokens - 1) * Heads], new[] { 0, Tokens - 1 }, _workers);
        _dq = Random(rng, Heads * Dim);
        _dk = Random(rng, KvHeads * Dim);
        _dv = Random(rng, KvHeads * Dim);
        _dout = new float[Heads * Dim];
        _dlse = new float[Heads];
    }

    [Benchmark(Baseline = true, Description = "TorchSharp SDPA causal, T=1024, H=8, D=64")]
    public void TorchSdpa()
    {
        using var y = nn.functional.scaled_dot_product_attention(_tq, _tk, _tv, is_casual: true);
    }

    [Benchmark(Description = "Wudao native attention causal, T=1024, H=8, D=64 (+LSE)")]
    public void WudaoAttention() =>
        NativeAttention.Forward<Attention64.Native>(_shape, _q, _k, _v, _out, _lse, _offsets, workers: _workers);

    [Benchmark(Description = "Wudao decode: 1 token vs 1024-token cache, H=8, KV=2, D=64, RoPE")]
    public void WudaoDecode()
    {
        NativeAttention.Forward<Attention64.Native>(_decodeShape, _cache, _dq, _dk, _dv, _dout, _dlse, _one, _workers);
        _cache.Truncate(0, Tokens - 1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _workers.Dispose();
        _tq.Dispose();
        _tk.Dispose();
        _tv.Dispose();
    }

    private static float[] Random(Random rng, int length)
    {
        var data = new float[length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return data;
    }
}

/// <summary>The benchmarked kernel, emitted by the generator as a model's attention is.</summary>
[AttentionKernel(HeadDim = 64)]
public static partial class Attention64
{
}
