using System;
using System.Linq;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// A NaN or an infinity in one token's input: that token's output row is NaN (as libtorch gives),
/// never a silent zero; every other token comes out as it would without it; checked mode names it.
/// </summary>
public sealed class NonFiniteInputTests
{
    private const int Tokens = 13;

    public static TheoryData<string, DeviceKind> Cases()
    {
        var data = new TheoryData<string, DeviceKind>();
        foreach (var name in new[] { nameof(TopK2Gelu), nameof(SwitchRelu), nameof(GShardSilu), nameof(TopK3SwiGlu), nameof(TopK2GeGlu), nameof(NoisyTop2Gelu), nameof(DeepSeekSwiGlu), nameof(HashRelu), nameof(ExpertChoiceSilu) })
        {
            data.Add(name, DeviceKind.Native);
            data.Add(name, TestAccelerator.Kind);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void A_non_finite_token_comes_out_nan_and_the_others_as_without_it(string name, DeviceKind device)
    {
        using var session = TestAccelerator.OpenSession(device, threads: 2);
        var (info, create) = Find(name);
        // Two layers of one seed: each run is its first call, so routing noise draws alike.
        using var layer = create(session, 7);
        using var twin = create(session, 7);
        var d = info.Dim;
        var clean = Numerics.RandomInputs(Tokens * d, seed: 3);
        clean[(5 * d) + 2] = 0f;
        clean[9 * d] = 0f;
        var dirty = (float[])clean.Clone();
        dirty[(5 * d) + 2] = float.NaN;
        dirty[9 * d] = float.PositiveInfinity;
        var ids = info.Router == RouterKind.Hash ? Enumerable.Range(0, Tokens).Select(t => (t * 7) % info.Options.Vocab).ToArray() : null;

        var (expected, cleanStats) = Run(session, layer, clean, ids, d);
        var (got, stats) = Run(session, twin, dirty, ids, d);

        // Counted in the statistics, whether the router's scores turned NaN or not (sigmoid and
        // noisy gates still route an infinite row; hash routing never looks at it).
        Assert.Equal(0, cleanStats.NonFinite);
        Assert.Equal(2, stats.NonFinite);
        Assert.Contains("non-finite tokens 2", stats.ToTable());

        for (var t = 0; t < Tokens; t++)
        {
            var row = got.AsSpan(t * d, d).ToArray();
            if (t is 5 or 9)
            {
                Assert.All(row, v => Assert.True(float.IsNaN(v), $"{name} token {t}: {v} where NaN belongs"));
            }
            else if (info.CapacityFactor == 0f)
            {
                // Dropless: no token competes for capacity, so the others are bitwise what they were.
                Assert.Equal(expected.AsSpan(t * d, d).ToArray(), row);
            }
            else
            {
                // With a capacity the clean run's tokens 5 and 9 took slots; the others are still finite.
                Assert.All(row, v => Assert.True(float.IsFinite(v), $"{name} token {t}: {v}"));
            }
        }
    }

    public static TheoryData<DeviceKind> Targets => new(DeviceKind.Native, TestAccelerator.Kind);

    [Theory]
    [MemberData(nameof(Targets))]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void Checked_mode_names_the_first_non_finite_token(DeviceKind device)
    {
        using var session = TestAccelerator.OpenSession(device, threads: 1);
        using var layer = TopK2Gelu.Create(session, 4);
        var x = Numerics.RandomInputs(Tokens * 8, seed: 6);
        using var clean = session.Upload(x, Tokens, 8);
        using var expected = layer.Forward(clean);
        layer.CheckFinite = true;
        using (var same = layer.Forward(clean))
        {
            Assert.Equal(expected.Output.ToArray(), same.Output.ToArray());
        }

        x[(6 * 8) + 3] = float.NegativeInfinity;
        x[(11 * 8) + 1] = float.NaN;
        using var dirty = session.Upload(x, Tokens, 8);
        var ex = Assert.Throws<NonFiniteInputException>(() => layer.Forward(dirty));

        Assert.Equal(6, ex.Token);
        Assert.Equal("TopK2Gelu.Forward: token 6 has -infinity at column 3 (CheckFinite is on; with it off, that token's output row is NaN) (Parameter 'x')", ex.Message);
    }

    private static (MoeLayerInfo Info, Func<Session, ulong, IMoeLayer> Create) Find(string name) =>
        Layers.All.TryGetValue(name, out var l)
            ? (l.Info, l.Create)
            : (RouterLayers.All[name].Info, (s, seed) => RouterLayers.All[name].Create(s, MoeWeights.Random(RouterLayers.All[name].Info, seed), seed));

    private static (float[] Output, MoeStats Stats) Run(Session session, IMoeLayer layer, float[] x, int[]? ids, int d)
    {
        using var input = session.Upload(x, Tokens, d);
        using var result = RouterLayer.Run(layer, input, ids);
        return (result.Output.ToArray(), result.Stats);
    }
}
