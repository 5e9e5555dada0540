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

        NativeAttention.Forward(shape, q, k, v, output, lse, c.Offsets, workers: session.Workers);

        var expected = AttentionReference.Forward(8, 2, 64, true, true, c.Q, c.K, c.V, c.Offsets);
        Numerics.Close(expected.Output, output.ToArray(), what: "device tensors: output");
        Numerics.Close(expected.Lse, lse.ToArray(), what: "device tensors: lse");
    }

    [Fact]
    public void Ilgpu_forward_over_device_tensors_matches_the_reference()
    {
        using var session = Session.Create(DeviceKind.Cpu);
        using var attention = new IlgpuAttention(session.Accelerator);
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
}
