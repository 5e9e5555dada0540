using System;
using System.Linq;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Whole layers on the test accelerator: ILGPU's CPU accelerator (the GPU kernels, simulated) or CUDA.</summary>
[Collection(AcceleratorCollection.Name)]
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class IlgpuForwardTests : ForwardTests
{
    public IlgpuForwardTests(AcceleratorSession fixture)
        : base(fixture.Session)
    {
    }
}

/// <summary>Whole layers on the native CPU target (the same plan, vectorised C#).</summary>
[Collection(NativeCollection.Name)]
public sealed class NativeForwardTests : ForwardTests
{
    public NativeForwardTests(NativeSession fixture)
        : base(fixture.Session)
    {
    }
}

/// <summary>Whole generated layers against the plain C# reference, written once for every target.</summary>
public abstract class ForwardTests
{
    private readonly Session _session;

    protected ForwardTests(Session session)
    {
        _session = session;
    }

    [Theory]
    [MemberData(nameof(Layers.NamesAndTokens), MemberType = typeof(Layers))]
    public void Forward_matches_reference_output_routing_and_statistics(string layer, int tokens)
    {
        var (_, info, create) = Layers.All[layer];
        using var moe = create(_session, 11);
        var x = Numerics.RandomInputs(tokens * info.Dim, seed: tokens + 3);
        using var input = _session.Upload(x, tokens, info.Dim);

        using var result = moe.Forward(input);

        var expected = MoeReference.Forward(info, moe.Weights, x, tokens, new CounterSeed(11), step: 0, out var routing);
        Assert.Equal(new[] { tokens, info.Dim }, result.Output.Shape);
        Numerics.Close(expected, result.Output.ToArray(), what: $"{layer} output");
        Numerics.Equal(routing.Kept, result.Stats.TokensPerExpert.ToArray(), "tokens per expert");
        Assert.Equal(routing.Dropped, result.Stats.Dropped);
        Assert.Equal(routing.Capacity, result.Stats.Capacity);
        Assert.Equal(tokens, result.Stats.Tokens);
        Assert.Equal(routing.AuxLoss, result.Stats.AuxLoss, 1e-5f);
    }

    [Fact]
    public void Capacity_overflow_drops_choices_and_counts_them()
    {
        // Inputs all alike route every token to the same expert, far past a capacity of ceil(1.0·T·1/E).
        using var moe = SwitchRelu.Create(_session, 5);
        const int tokens = 20;
        var x = Enumerable.Repeat(0.5f, tokens * SwitchRelu.Info.Dim).ToArray();
        using var input = _session.Upload(x, tokens, SwitchRelu.Info.Dim);

        using var result = moe.Forward(input);

        Assert.Equal(5, result.Stats.Capacity);
        Assert.Equal(5, result.Stats.TokensPerExpert.Max());
        Assert.Equal(15, result.Stats.Dropped);
        var output = result.Output.ToArray();
        // Dropped tokens get no expert output: rows 5.. are zero, rows ..4 are not.
        Assert.Contains(output.Take(5 * SwitchRelu.Info.Dim), v => v != 0f);
        Assert.All(output.Skip(5 * SwitchRelu.Info.Dim), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Dropless_router_never_drops()
    {
        using var moe = TopK2Gelu.Create(_session, 5);
        const int tokens = 30;
        var x = Enumerable.Repeat(0.25f, tokens * TopK2Gelu.Info.Dim).ToArray();
        using var input = _session.Upload(x, tokens, TopK2Gelu.Info.Dim);

        using var result = moe.Forward(input);

        Assert.Equal(0, result.Stats.Capacity);
        Assert.Equal(0, result.Stats.Dropped);
        Assert.Equal(tokens * 2, result.Stats.TokensPerExpert.Sum());
    }

    [Fact]
    public void GShard_second_expert_drop_is_reproducible_from_seed_and_step()
    {
        var info = GShardSilu.Info;
        const int tokens = 37;
        var x = Numerics.RandomInputs(tokens * info.Dim, seed: 1);
        using var input = _session.Upload(x, tokens, info.Dim);
        using var a = GShardSilu.Create(_session, 99);
        using var b = GShardSilu.Create(_session, 99);

        using var first = a.Forward(input);
        using var second = b.Forward(input);
        using var next = a.Forward(input);

        Assert.Equal(first.Output.ToArray(), second.Output.ToArray());
        Assert.Equal(first.Stats.TokensPerExpert, second.Stats.TokensPerExpert);
        var step0 = MoeReference.Route(info, a.Weights, x, tokens, new CounterSeed(99), 0);
        var step1 = MoeReference.Route(info, a.Weights, x, tokens, new CounterSeed(99), 1);
        Assert.NotEqual(step0.Experts, step1.Experts);
        Numerics.Equal(step1.Kept, next.Stats.TokensPerExpert.ToArray(), "kept at step 1");
        Assert.Contains(-1, step0.Experts);
    }

    [Fact]
    public void Same_input_gives_bitwise_same_output()
    {
        using var moe = TopK3SwiGlu.Create(_session, 3);
        var x = Numerics.RandomInputs(13 * TopK3SwiGlu.Info.Dim, seed: 8);
        using var input = _session.Upload(x, 13, TopK3SwiGlu.Info.Dim);

        using var a = moe.Forward(input);
        using var b = moe.Forward(input);

        Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
    }

    [Fact]
    public void Repeated_calls_allocate_no_device_memory()
    {
        using var moe = TopK2Gelu.Create(_session, 1);
        var x = Numerics.RandomInputs(13 * TopK2Gelu.Info.Dim, seed: 2);
        using var input = _session.Upload(x, 13, TopK2Gelu.Info.Dim);
        moe.Forward(input).Dispose();
        var before = _session.Pool.Allocations;

        for (var i = 0; i < 5; i++)
        {
            moe.Forward(input).Dispose();
        }

        Assert.Equal(before, _session.Pool.Allocations);
    }

    [Fact]
    public void Same_seed_gives_same_weights_and_another_seed_other_weights()
    {
        using var a = TopK2Gelu.Create(_session, 42);
        using var b = TopK2Gelu.Create(_session, 42);
        using var c = TopK2Gelu.Create(_session, 43);

        Assert.Equal(a.Weights["experts.w1"].Data, b.Weights["experts.w1"].Data);
        Assert.NotEqual(a.Weights["experts.w1"].Data, c.Weights["experts.w1"].Data);
        var bound = 1f / MathF.Sqrt(TopK2Gelu.Info.Dim);
        Assert.All(a.Weights["experts.w1"].Data, v => Assert.InRange(v, -bound, bound));
    }

    [Fact]
    public void Wrong_input_shape_is_a_clear_error()
    {
        using var moe = TopK2Gelu.Create(_session, 1);
        using var input = _session.Upload(new float[9 * 3], 9, 3);

        var e = Assert.Throws<ArgumentException>(() => moe.Forward(input));

        Assert.Contains("[tokens, 8]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[9, 3]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Weights_of_the_wrong_shape_are_rejected_naming_the_tensor()
    {
        var good = MoeWeights.Random(TopK2Gelu.Info, 1);
        var bad = new MoeWeights(good.Names.Select(n => n == "experts.b2" ? new HostTensor(n, new float[4 * 7], 4, 7) : good[n]));

        var e = Assert.Throws<ArgumentException>(() => TopK2Gelu.Create(_session, bad));

        Assert.Contains("experts.b2", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 8]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[4, 7]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_weights_are_used_as_given()
    {
        var weights = MoeWeights.Random(SwitchRelu.Info, 77);
        using var moe = SwitchRelu.Create(_session, weights);
        var x = Numerics.RandomInputs(13 * SwitchRelu.Info.Dim, seed: 4);
        using var input = _session.Upload(x, 13, SwitchRelu.Info.Dim);

        using var result = moe.Forward(input);

        var expected = MoeReference.Forward(SwitchRelu.Info, weights, x, 13, new CounterSeed(0), 0, out _);
        Numerics.Close(expected, result.Output.ToArray(), what: "output");
    }
}
