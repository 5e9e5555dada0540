using Wudao.Attention;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>The attention entry points that take a session's device tensors, as generated models hold them.</summary>
public sealed class AttentionTensorTests
{
    [Fact]
    public void Native_forward_over_device_tensors_matches_the_reference()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 2);
        var c = new AttentionCase(8, 2, 64, new[] { 19, 40 }, seed: 3);
        var shape = new AttentionShape(8, 2, 64, causal: true, rope: true);
        using var q = session.Upload(c.Q, c.Tokens, 8, 64);
        using var k = session.Upload(c.K, c.Tokens, 2, 64);
        using var v = session.Upload(c.V, c.Tokens, 2, 64);
        using var output = session.Upload(c.Output, c.Tokens, 8, 64);
        using var lse = session.Upload(c.Lse, c.Tokens, 8);

        NativeAttention.Forward<Attention64.Native>(shape, q, k, v, output, lse, c.Offsets, workers: session.Workers);

        var expected = AttentionReference.Forward(8, 2, 64, true, true, c.Q, c.K, c.V, c.Offsets);
        Numerics.Close(expected.Output, output.ToArray(), what: "device tensors: output");
        Numerics.Close(expected.Lse, lse.ToArray(), what: "device tensors: lse");
    }

    [Fact]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void Ilgpu_forward_over_device_tensors_matches_the_reference()
    {
        using var session = TestAccelerator.OpenSession();
        using var attention = Attention16.Device(session.Accelerator);
        var c = new AttentionCase(4, 2, 16, new[] { 6, 11 }, seed: 4);
        var shape = new AttentionShape(4, 2, 16, causal: true, rope: true);
        using var q = session.Upload(c.Q, c.Tokens, 4, 16);
        using var k = session.Upload(c.K, c.Tokens, 2, 16);
        using var v = session.Upload(c.V, c.Tokens, 2, 16);
        using var output = session.Upload(c.Output, c.Tokens, 4, 16);
        using var lse = session.Upload(c.Lse, c.Tokens, 4);

        attention.Forward(shape, q, k, v, output, lse, c.Offsets);

        var expected = AttentionReference.Forward(4, 2, 16, true, true, c.Q, c.K, c.V, c.Offsets);
        Numerics.Close(expected.Output, output.ToArray(), what: "ILGPU device tensors: output");
        Numerics.Close(expected.Lse, lse.ToArray(), what: "ILGPU device tensors: lse");
    }

    [Fact]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void Ilgpu_cached_forward_over_device_tensors_matches_the_reference()
    {
        using var session = TestAccelerator.OpenSession();
        using var attention = Attention16.Device(session.Accelerator);
        using var cache = new IlgpuKvCache(session.Accelerator, 1, 8, 2, 16);
        var c = new AttentionCase(4, 2, 16, new[] { 7 }, seed: 5);
        var shape = new AttentionShape(4, 2, 16, causal: true, rope: true);
        var full = AttentionReference.Forward(4, 2, 16, true, true, c.Q, c.K, c.V, c.Offsets);

        // Tokens 0..5, then token 6 on top of the cache.
        foreach (var (from, to) in new[] { (0, 6), (6, 7) })
        {
            var n = to - from;
            using var q = session.Upload(AttentionCase.Rows(c.Q, from, to, 4, 16), n, 4, 16);
            using var k = session.Upload(AttentionCase.Rows(c.K, from, to, 2, 16), n, 2, 16);
            using var v = session.Upload(AttentionCase.Rows(c.V, from, to, 2, 16), n, 2, 16);
            using var output = session.Upload(new float[n * 4 * 16], n, 4, 16);
            using var lse = session.Upload(new float[n * 4], n, 4);

            attention.Forward(shape, cache, q, k, v, output, lse, new[] { 0, n });

            Numerics.Close(AttentionCase.Rows(full.Output, from, to, 4, 16), output.ToArray(), what: $"ILGPU cached device tensors, tokens {from}..{to - 1}: output");
            Numerics.Close(AttentionCase.Rows(full.Lse, from, to, 4, 1), lse.ToArray(), what: $"ILGPU cached device tensors, tokens {from}..{to - 1}: lse");
        }

        Assert.Equal(7, cache.Length(0));
    }
}
