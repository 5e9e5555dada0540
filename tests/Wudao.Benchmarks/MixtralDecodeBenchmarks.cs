using System;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Wudao.Models;

namespace Wudao.Benchmarks;

/// <summary>
/// A 0.6 B-parameter Mixtral-layout model (fp32, 2.5 GB of weights, created from a seed): every
/// block MoE, 8 SwiGLU experts top-2, GQA 16/4 heads of 64, RoPE, RMSNorm, vocabulary 32000.
/// </summary>
[MoeTransformer(Vocab = 32000, Dim = 1024, Layers = 8, MaxSequence = 256, Norm = Norm.RmsNorm)]
[Attention(Heads = 16, KvHeads = 4, Causal = true, Position = Position.Rope)]
[MoeFeedForward(Experts = 8, TopK = 2, Hidden = 2816, Activation = Activation.SwiGlu, Every = 1)]
[Router(RouterKind.TopK)]
public partial class Mixtral06B
{
}

/// <summary>
/// Prefill 128 tokens, and decode 64 tokens one at a time after such a prefill, beside a 2-thread
/// read of a 1 GiB buffer: decode streams its weights once a token, so weight bytes per second over
/// the measured read bandwidth is how close it runs to the memory's speed (printed after the run).
/// </summary>
[InvocationCount(1)]
public class MixtralDecodeBenchmarks
{
    public const int PromptTokens = 128;
    public const int DecodeTokens = 64;

    private readonly int[] _prompt = Enumerable.Range(0, PromptTokens).Select(i => (i * 7919 + 13) % 32000).ToArray();
    private Session _session = null!;
    private Mixtral06B _lm = null!;
    private float[] _buffer = null!;

    /// <summary>Weight bytes one decoded token reads: every dense GEMM, the router and k experts per block, and one embedding row.</summary>
    public static long WeightBytesPerToken()
    {
        var info = Mixtral06B.Info;
        long floats = 0;
        foreach (var w in info.Weights)
        {
            var size = w.Shape.Aggregate(1L, (a, d) => a * d);
            floats += w.Name == "embed.weight" ? w.Shape[^1] : size;
        }

        var moe = info.Moe;
        var experts = moe.Weights.Where(w => w.Name.StartsWith("experts.", StringComparison.Ordinal)).Sum(w => w.Shape.Aggregate(1L, (a, d) => a * d));
        var others = moe.Weights.Where(w => !w.Name.StartsWith("experts.", StringComparison.Ordinal)).Sum(w => w.Shape.Aggregate(1L, (a, d) => a * d));
        floats += info.MoePrefixes.Count * (others + (experts / moe.Experts * moe.TopK));
        return floats * sizeof(float);
    }

    [GlobalSetup]
    public void Setup()
    {
        _session = Session.Create(DeviceKind.Native);
        _lm = Mixtral06B.Create(_session, seed: 1);
        // The read buffer lives in memory of the kind the weights do (huge pages where offered), so
        // the two streams are measured on equal terms: a 4 KiB-paged read runs slower than the weights.
        _buffer = WeightMemory.Floats(1 << 28);
        _buffer.AsSpan().Fill(1f);
    }

    [Benchmark(Description = "memory read 1 GiB (2 threads)")]
    public float Read() => MemoryRead.Sum(_buffer);

    [Benchmark(Description = "Mixtral 0.6B: prefill 128 tokens")]
    public float[] Prefill()
    {
        _lm.Reset();
        return _lm.Step(_prompt);
    }

    [IterationSetup(Target = nameof(Decode))]
    public void PrefillBeforeDecode()
    {
        _lm.Reset();
        _lm.Step(_prompt);
    }

    [Benchmark(Description = "Mixtral 0.6B: decode 64 tokens")]
    public int Decode()
    {
        var token = 1;
        for (var i = 0; i < DecodeTokens; i++)
        {
            var logits = _lm.Step(new[] { token });
            token = _lm.Sample(logits, Sampling.Greedy, i);
        }

        return token;
    }

    /// <summary>
    /// Decode's weight bytes per second over the read bandwidth, from this run's means (ns), and
    /// again from their medians and their minimums: on a shared host one slow iteration moves a
    /// mean far, and the fastest iteration of each is the one least disturbed by other tenants.
    /// </summary>
    public static void Print(System.Collections.Generic.IEnumerable<BenchmarkDotNet.Reports.Summary> summaries)
    {
        var reports = summaries.SelectMany(s => s.Reports).Where(r => r.ResultStatistics != null && r.BenchmarkCase.Descriptor.Type == typeof(MixtralDecodeBenchmarks)).ToList();
        BenchmarkDotNet.Mathematics.Statistics? Stats(string method) => reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method)?.ResultStatistics;
        if (Stats(nameof(Read)) is not { } read || Stats(nameof(Decode)) is not { } decode)
        {
            return;
        }

        foreach (var (what, r, d) in new[] { ("means", read.Mean, decode.Mean), ("medians", read.Median, decode.Median), ("minimums", read.Min, decode.Min) })
        {
            var bandwidth = (1L << 30) / r;
            var weights = WeightBytesPerToken() * (double)DecodeTokens / d;
            Console.WriteLine($"Mixtral 0.6B decode ({what}): {DecodeTokens / (d / 1e9):F1} tok/s, {weights:F1} GB/s of weights ({WeightBytesPerToken() / 1e6:F0} MB a token) = {weights / bandwidth:P0} of the {bandwidth:F1} GB/s read bandwidth measured in this run");
        }

        if (Stats(nameof(Prefill)) is { } prefill)
        {
            Console.WriteLine($"Mixtral 0.6B prefill: {PromptTokens / (prefill.Mean / 1e9):F0} tok/s");
        }
    }

    /// <summary>
    /// Decode's time by kernel role (from the model's own counters, and the MoE layers' kernels
    /// inside "moe") over 64 tokens after a 128-token prompt, beside the median of 15 reads: every
    /// path runs warmed up first, so the JIT's optimised code is what is timed.
    /// </summary>
    public static void Breakdown()
    {
        var bench = new MixtralDecodeBenchmarks();
        bench.Setup();
        for (var i = 0; i < 3; i++)
        {
            bench.PrefillBeforeDecode();
            bench.Decode();
        }

        var moes = typeof(Mixtral06B).GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)
            .Where(f => f.Name.StartsWith("_moe_", StringComparison.Ordinal)).Select(f => f.GetValue(bench._lm)!).Select(m => (Wudao.CpuKernelSet)m.GetType().GetProperty("NativeKernels")!.GetValue(m)!).ToList();
        bench.PrefillBeforeDecode();
        Array.Clear(bench._lm.KernelTicks);
        var before = moes.Select(m => m.ElapsedTicks.ToArray()).ToList();
        var (gen2, pause) = (GC.CollectionCount(2), GC.GetTotalPauseDuration());
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        bench.Decode();
        var total = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds / DecodeTokens;
        Console.WriteLine($"GC during decode: {GC.CollectionCount(2) - gen2} gen-2 collections, {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds / DecodeTokens:F3} ms a token paused");
        for (var i = 0; i < 10; i++)
        {
            MemoryRead.Sum(bench._buffer);
        }

        var reads = Enumerable.Range(0, 15).Select(_ =>
        {
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            MemoryRead.Sum(bench._buffer);
            return System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }).Order().ToList();
        var bandwidth = (1L << 30) / reads[reads.Count / 2] / 1e9;
        var weights = WeightBytesPerToken() / (total / 1e3) / 1e9;
        Console.WriteLine($"Mixtral 0.6B decode: {total:F2} ms a token, {weights:F1} GB/s of weights = {weights / bandwidth:P0} of {bandwidth:F1} GB/s read (median of 15)");
        static double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency / DecodeTokens;
        foreach (var role in Mixtral06B.KernelRoles.Distinct())
        {
            Console.WriteLine($"  {role,-12} {Ms(Mixtral06B.KernelRoles.Select((r, i) => r == role ? bench._lm.KernelTicks[i] : 0).Sum()),8:F3} ms a token");
        }

        if (Environment.GetEnvironmentVariable("WUDAO_BREAKDOWN_KERNELS") == "1")
        {
            for (var k = 0; k < bench._lm.KernelTicks.Length; k++)
            {
                Console.WriteLine($"    k{k,-3} {Mixtral06B.KernelRoles[k],-10} {Ms(bench._lm.KernelTicks[k]),8:F3} ms a token");
            }
        }

        var roles = moes[0].Roles;
        for (var k = 0; k < roles.Count; k++)
        {
            var ticks = moes.Select((m, i) => m.ElapsedTicks[k] - before[i][k]).Sum();
            Console.WriteLine($"    moe {roles[k],-12} {Ms(ticks),8:F3} ms a token");
        }

        bench.Cleanup();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lm.Dispose();
        _session.Dispose();
    }
}
