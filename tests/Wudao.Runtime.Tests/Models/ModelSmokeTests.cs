using System;
using System.Linq;
using Wudao.Models;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>A declared model runs end to end: incremental decoding agrees with a full pass.</summary>
public sealed class ModelSmokeTests
{
    [Fact]
    public void Decoding_token_by_token_matches_the_full_pass()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 2);
        using var lm = TinyLm.Create(session, seed: 3);
        var ids = Enumerable.Range(0, 23).Select(i => (i * 31) % 97).ToArray();

        var full = lm.Forward(ids);
        Assert.Equal(23 * 97, full.Length);
        Assert.All(full, v => Assert.True(float.IsFinite(v)));

        lm.Reset();
        var prefill = lm.Step(ids.AsSpan(0, 10));
        Numerics.Close(full.AsSpan(9 * 97, 97).ToArray(), prefill, rtol: 1e-4f, atol: 1e-5f, what: "prefill logits");
        for (var t = 10; t < ids.Length; t++)
        {
            var step = lm.Step(ids.AsSpan(t, 1));
            Numerics.Close(full.AsSpan(t * 97, 97).ToArray(), step, rtol: 1e-4f, atol: 1e-5f, what: $"decode logits at {t}");
        }

        Assert.Equal(23, lm.Length);
    }
}
