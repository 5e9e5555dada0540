using System;
using BenchmarkDotNet.Attributes;

namespace Wudao.Benchmarks;

/// <summary>
/// The machine's memory copy bandwidth (the bar for gate, dispatch and combine, which are
/// bandwidth-bound), and Wudao's layer with a tiny expert width so those kernels dominate.
/// </summary>
[MemoryDiagnoser]
public class BandwidthBenchmarks
{
    private const int Floats = BenchLayer.Tokens * 512 * 4;
    private float[] _src = null!;
    private float[] _dst = null!;
    private Session _session = null!;
    private RoutingOnlyLayer _layer = null!;
    private DeviceTensor _x = null!;

    [GlobalSetup]
    public void Setup()
    {
        _src = new float[Floats];
        _dst = new float[Floats];
        new Random(1).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_src.AsSpan()));
        _session = Session.Create(DeviceKind.Native);
        _layer = RoutingOnlyLayer.Create(_session, seed: 1);
        _x = _session.Upload(new float[BenchLayer.Tokens * 512], BenchLayer.Tokens, 512);
    }

    /// <summary>Copies 32 MiB: bytes moved = 2 × 32 MiB (read + write).</summary>
    [Benchmark(Baseline = true, Description = "memory copy 32 MiB")]
    public void Copy() => _src.AsSpan().CopyTo(_dst);

    /// <summary>Gate reads x (8 MiB), dispatch moves 2·8 MiB twice, combine reads 16 MiB and writes 8 MiB.</summary>
    [Benchmark(Description = "Wudao gate+dispatch+combine (h = 1)")]
    public void RoutingKernels()
    {
        using var result = _layer.Forward(_x);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _layer.Dispose();
        _x.Dispose();
        _session.Dispose();
    }
}

/// <summary>The benchmark layer's routing with an expert width of 1: what is left is gate, dispatch and combine.</summary>
[MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 1, Activation = Activation.Relu)]
[Router(RouterKind.TopK)]
public partial class RoutingOnlyLayer
{
}
