using System.Collections.Generic;
using System.Linq;
using Wudao.Attention;
using Wudao.Runtime.Tests;
using Xunit;

namespace Wudao.Oracle.Tests;

/// <summary>
/// Wudao's native and ILGPU attention kernels against libtorch's scaled_dot_product_attention,
/// sequence by sequence of a packed batch: output and log-sum-exp.
/// </summary>
public sealed class AttentionOracleTests
{
    public static IEnumerable<object[]> Cases()
    {
        // heads, kv heads, dim, causal, rope, lengths
        foreach (var causal in new[] { true, false })
        {
            foreach (var rope in new[] { false, true })
            {
                yield return new object[] { 8, 8, 64, causal, rope, new[] { 1, 7 } };
                yield return new object[] { 8, 2, 64, causal, rope, new[] { 33 } };
                yield return new object[] { 8, 1, 32, causal, rope, new[] { 130 } };
                yield return new object[] { 4, 2, 128, causal, rope, new[] { 5, 1, 64 } };
            }
        }

        // Head dims no fixed kernel had: emitted for each declaration.
        yield return new object[] { 4, 2, 80, true, true, new[] { 70, 3 } };
        yield return new object[] { 2, 1, 256, true, true, new[] { 65 } };
        yield return new object[] { 4, 4, 96, false, false, new[] { 17 } };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Native_attention_matches_libtorch_sdpa(int heads, int kvHeads, int dim, bool causal, bool rope, int[] lengths)
    {
        var c = new AttentionCase(heads, kvHeads, dim, lengths, seed: 100 + dim + lengths.Sum());
        var shape = new AttentionShape(heads, kvHeads, dim, causal, rope);
        using var workers = new CpuWorkers(2);

        AttentionKernels.Forward(shape, c.Q, c.K, c.V, c.Output, c.Lse, c.Offsets, workers: workers);

        Compare(c, causal, rope, c.Output, c.Lse, $"native {shape}");
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void Ilgpu_attention_matches_libtorch_sdpa(bool causal, bool rope)
    {
        var c = new AttentionCase(4, 2, 16, new[] { 9, 1, 20 }, seed: 7);
        var shape = new AttentionShape(4, 2, 16, causal, rope);
        using var gpu = new IlgpuAttentionFixture();

        var (output, lse) = gpu.Run(shape, c);

        Compare(c, causal, rope, output, lse, $"ILGPU {shape}");
    }

    private static void Compare(AttentionCase c, bool causal, bool rope, float[] output, float[] lse, string what)
    {
        for (var b = 0; b + 1 < c.Offsets.Length; b++)
        {
            var (from, to) = (c.Offsets[b], c.Offsets[b + 1]);
            var torch = TorchAttention.Forward(
                c.Heads,
                c.KvHeads,
                c.Dim,
                causal,
                rope,
                AttentionCase.Rows(c.Q, from, to, c.Heads, c.Dim),
                AttentionCase.Rows(c.K, from, to, c.KvHeads, c.Dim),
                AttentionCase.Rows(c.V, from, to, c.KvHeads, c.Dim),
                to - from);
            Numerics.Close(torch.Output, AttentionCase.Rows(output, from, to, c.Heads, c.Dim), what: $"{what}, sequence {b} ({to - from} tokens): output vs libtorch");
            Numerics.Close(torch.Lse, AttentionCase.Rows(lse, from, to, c.Heads, 1), what: $"{what}, sequence {b}: lse vs libtorch");
        }
    }
}
