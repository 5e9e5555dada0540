using System.Linq;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The two schedules of one plan agree, and the native one does not depend on its thread count.</summary>
public sealed class TargetAgreementTests
{
    [Theory]
    [MemberData(nameof(Layers.Names), MemberType = typeof(Layers))]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void Native_target_matches_the_ilgpu_kernels(string layer)
    {
        var (_, info, create) = Layers.All[layer];
        const int tokens = 45;
        var x = Numerics.RandomInputs(tokens * info.Dim, seed: 31);
        using var cpu = TestAccelerator.OpenSession();
        using var native = Session.Create(DeviceKind.Native, threads: 2);
        using var a = create(cpu, 9);
        using var b = create(native, 9);
        using var xa = cpu.Upload(x, tokens, info.Dim);
        using var xb = native.Upload(x, tokens, info.Dim);

        using var ra = a.Forward(xa);
        using var rb = b.Forward(xb);

        Numerics.Close(ra.Output.ToArray(), rb.Output.ToArray(), what: $"{layer} native vs ILGPU");
        Assert.Equal(ra.Stats.TokensPerExpert, rb.Stats.TokensPerExpert);
        Assert.Equal(ra.Stats.Dropped, rb.Stats.Dropped);
        Assert.Equal(ra.Stats.AuxLoss, rb.Stats.AuxLoss, 1e-6f);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Native_output_is_bitwise_independent_of_thread_count(int threads)
    {
        var info = GShardSilu.Info;
        const int tokens = 300;
        var x = Numerics.RandomInputs(tokens * info.Dim, seed: 12);
        using var two = Session.Create(DeviceKind.Native, threads: 2);
        using var other = Session.Create(DeviceKind.Native, threads: threads);
        using var a = GShardSilu.Create(two, 4);
        using var b = GShardSilu.Create(other, 4);
        using var xa = two.Upload(x, tokens, info.Dim);
        using var xb = other.Upload(x, tokens, info.Dim);

        using var ra = a.Forward(xa);
        using var rb = b.Forward(xb);

        Assert.Equal(ra.Output.ToArray(), rb.Output.ToArray());
        Assert.Equal(ra.Stats.TokensPerExpert, rb.Stats.TokensPerExpert);
    }

    [Fact]
    public void Default_session_without_a_gpu_is_the_native_target()
    {
        using var session = Session.Create();

        Assert.Equal(DeviceKind.Native, session.Kind);
        Assert.NotNull(session.Workers);
        Assert.Contains("Native CPU", session.DeviceName, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_session_names_its_device_and_threads()
    {
        using var native = Session.Create(DeviceKind.Native, threads: 3);
        using var cpu = Session.Create(DeviceKind.Cpu);

        Assert.StartsWith("Session: Native CPU: ", native.ToString(), System.StringComparison.Ordinal);
        Assert.Contains(", 3 threads, ", native.ToString(), System.StringComparison.Ordinal);
        Assert.Matches(@"^Session: Cpu: .+, \d+ multiprocessors × \d+ threads$", cpu.ToString());
        native.Dispose();
        Assert.Equal("Session: Native (disposed)", native.ToString());
    }

    [Fact]
    public void Large_layer_uses_full_and_partial_gemm_panels()
    {
        // Hidden 70 and Dim 10 leave partial micro-kernel panels and row blocks; 300 tokens give several tiles per expert.
        var info = GShardSilu.Info;
        const int tokens = 300;
        var x = Numerics.RandomInputs(tokens * info.Dim, seed: 2);
        using var native = Session.Create(DeviceKind.Native, threads: 2);
        using var layer = GShardSilu.Create(native, 8);
        using var input = native.Upload(x, tokens, info.Dim);

        using var result = layer.Forward(input);

        var expected = Reference.MoeReference.Forward(info, layer.Weights, x, tokens, new CounterSeed(8), 0, out var routing);
        Numerics.Close(expected, result.Output.ToArray(), what: "output");
        Assert.True(routing.Kept.Max() > GShardSilu.CpuKernels.TileRows, "an expert must span several tiles");
    }
}
