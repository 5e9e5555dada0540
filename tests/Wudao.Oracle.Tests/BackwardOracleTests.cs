using System;
using System.Linq;
using Wudao.Runtime.Tests;
using Xunit;

namespace Wudao.Oracle.Tests;

/// <summary>
/// Generated layers' Backward on the native CPU target against libtorch autograd on the same
/// weights, inputs and routing (<see cref="TorchMoe.Gradients"/>): dL/dx and every weight's
/// gradient, fp32 against fp32, L = Σ out·dOut + aux. Also: the gradients are bitwise the same on
/// one thread and on two.
/// </summary>
[Collection(OracleCollection.Name)]
public sealed class BackwardOracleTests
{
    /// <summary>‖generated − libtorch‖ / ‖libtorch‖ per tensor: relative error over the whole gradient, so a near-zero element does not count as 100 %.</summary>
    private const double Tolerance = 1e-4;

    /// <summary>
    /// An RMS floor of 1e-6 per element, for gradients that are nearly zero: under top-1 with
    /// renormalisation the gate is w/w = 1 and its gradient is exactly 0 here, while libtorch's
    /// dg/s − dg·w/s² leaves fp32 rounding of dg (≈1e-6 of it) in the router weight's gradient.
    /// </summary>
    private const double RmsFloor = 1e-6;

    private readonly OracleSessions _sessions;

    public BackwardOracleTests(OracleSessions sessions) => _sessions = sessions;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in OracleLayers.All.Keys)
        {
            foreach (var tokens in new[] { 0, 1, 17, 300 })
            {
                data.Add(name, tokens);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generated_backward_matches_libtorch_autograd(string layer, int tokens)
    {
        var (info, seed, create) = OracleLayers.All[layer];
        var weights = MoeWeights.Random(info, seed);
        var routingSeed = new CounterSeed(seed);
        var x = OracleInputs.WithoutTies(info, weights, tokens, seed: (tokens * 7) + 1, routingSeed, step: 0);
        var dOut = Cotangent(tokens * info.Dim, seed);

        var (dx, gradients, stats) = Run(_sessions.Native, create, weights, seed, x, dOut, tokens, info);
        var torch = TorchMoe.Gradients(info, weights, x, tokens, routingSeed, step: 0, dOut, dAux: 1f);

        Assert.Equal(tokens, stats.Tokens);
        Close(torch.DX, dx, $"{layer} x{tokens}: dL/dx");
        foreach (var w in info.Weights)
        {
            Close(torch.Weights[w.Name], gradients[w.Name].Data, $"{layer} x{tokens}: dL/d{w.Name}");
        }

        if (info.CapacityFactor is > 0f and < 1f && tokens == 300)
        {
            Assert.True(stats.Dropped > 0, $"{layer} x{tokens}: the overflow case dropped nothing");
        }
    }

    [Theory]
    [InlineData(nameof(OracleGShardGelu), 300)]
    [InlineData(nameof(OracleTopK4SwiGlu), 130)]
    [InlineData(nameof(OracleSwitchGeluOverflow), 300)]
    public void Gradients_are_bitwise_the_same_on_one_thread_and_on_two(string layer, int tokens)
    {
        var (info, seed, create) = OracleLayers.All[layer];
        var weights = MoeWeights.Random(info, seed);
        var x = OracleInputs.WithoutTies(info, weights, tokens, seed: 5, new CounterSeed(seed), step: 0);
        var dOut = Cotangent(tokens * info.Dim, seed);
        using var one = Session.Create(DeviceKind.Native, threads: 1);

        var (dx1, g1, _) = Run(one, create, weights, seed, x, dOut, tokens, info);
        var (dx2, g2, _) = Run(_sessions.Native, create, weights, seed, x, dOut, tokens, info);

        Assert.Equal(dx1, dx2);
        foreach (var w in info.Weights)
        {
            Assert.True(g1[w.Name].Data.SequenceEqual(g2[w.Name].Data), $"{layer}: d{w.Name} differs between 1 and 2 threads");
        }
    }

    [Fact]
    public void Backward_without_a_training_forward_says_what_is_missing()
    {
        var (info, seed, create) = OracleLayers.All[nameof(OracleTopK1Gelu)];
        using var moe = create(_sessions.Native, MoeWeights.Random(info, seed), seed);
        using var x = _sessions.Native.Upload(new float[2 * info.Dim], 2, info.Dim);
        using (moe.Forward(x))
        {
        }

        var e = Assert.Throws<InvalidOperationException>(() => moe.Backward(x));
        Assert.Contains("RequiresGrad", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Backward_on_the_ilgpu_target_says_where_it_runs()
    {
        var (info, seed, create) = OracleLayers.All[nameof(OracleTopK1Gelu)];
        using var moe = create(_sessions.Cpu, MoeWeights.Random(info, seed), seed);
        moe.RequiresGrad = true;
        using var x = _sessions.Cpu.Upload(new float[2 * info.Dim], 2, info.Dim);
        using (moe.Forward(x))
        {
        }

        var e = Assert.Throws<NotSupportedException>(() => moe.Backward(x));
        Assert.Contains("native CPU target", e.Message, StringComparison.Ordinal);
    }

    private static (float[] Dx, MoeWeights Gradients, MoeStats Stats) Run(Session session, Func<Session, MoeWeights, ulong, IMoeLayer> create, MoeWeights weights, ulong seed, float[] x, float[] dOut, int tokens, MoeLayerInfo info)
    {
        using var moe = create(session, weights, seed);
        moe.RequiresGrad = true;
        using var input = session.Upload(x, tokens, info.Dim);
        using var result = moe.Forward(input);
        using var d = session.Upload(dOut, tokens, info.Dim);
        using var dx = moe.Backward(d);
        return (dx.ToArray(), moe.Gradients, result.Stats);
    }

    private static float[] Cotangent(int length, ulong seed) => Enumerable.Range(0, length).Select(i => MathF.Sin((i * 0.731f) + seed)).ToArray();

    private static void Close(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, norm = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            diff += Math.Pow(actual[i] - (double)expected[i], 2);
            norm += Math.Pow(expected[i], 2);
        }

        Assert.True(actual.All(float.IsFinite), $"{what}: non-finite values");
        var error = norm == 0 ? Math.Sqrt(diff) : Math.Sqrt(diff / norm);
        var allowed = Tolerance + (norm == 0 ? RmsFloor * Math.Sqrt(expected.Length) : RmsFloor * Math.Sqrt(expected.Length / norm));
        Assert.True(error <= allowed, $"{what}: relative error {error:E2} > {allowed:E2} (‖libtorch‖ = {Math.Sqrt(norm):G4})");
    }
}
