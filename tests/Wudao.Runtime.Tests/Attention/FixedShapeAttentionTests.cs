using System;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using Wudao.Attention;
using Wudao.Runtime.Tests.Models;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// A model's attention kernels hold its heads, kv heads, mask, RoPE (base and table) and softmax scale as constants: they run
/// their own shape and refuse any other by name, on both targets; a standalone kernel takes any.
/// </summary>
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class FixedShapeAttentionTests : IClassFixture<IlgpuAttentionFixture>
{
    private readonly IlgpuAttentionFixture _fixture;

    public FixedShapeAttentionTests(IlgpuAttentionFixture fixture) => _fixture = fixture;

    // TinyLm: 2 heads, 1 kv head, head dim 32, causal, RoPE.
    private static readonly AttentionShape Own = new(2, 1, 32, causal: true, rope: true);

    public static TheoryData<AttentionShape> Others => new()
    {
        new AttentionShape(4, 1, 32, causal: true, rope: true),
        new AttentionShape(2, 2, 32, causal: true, rope: true),
        new AttentionShape(2, 1, 32, causal: false, rope: true),
        new AttentionShape(2, 1, 32, causal: true, rope: false),
        new AttentionShape(2, 1, 32, causal: true, rope: true, ropeBase: 500000f),
        new AttentionShape(2, 1, 32, causal: true, rope: true, scale: 0.125f),
    };

    private static Type Nested(string name) =>
        typeof(TinyLm).GetNestedType(name, BindingFlags.NonPublic) ?? throw new InvalidOperationException($"TinyLm has no nested {name}");

    private static AttentionCase Case(AttentionShape shape) => new(shape.Heads, shape.KvHeads, shape.HeadDim, new[] { 5, 3 }, seed: 7);

    private static float[] RunNative<TKernel>(AttentionShape shape)
        where TKernel : struct, INativeAttentionKernel
    {
        var c = Case(shape);
        var output = new float[c.Output.Length];
        NativeAttention.Forward<TKernel>(shape, c.Q, c.K, c.V, output, new float[c.Lse.Length], c.Offsets);
        return output;
    }

    private float[] RunIlgpu<TKernel>(AttentionShape shape)
        where TKernel : struct, IIlgpuAttentionKernel
    {
        using var attention = IlgpuAttention.Create<TKernel>(_fixture.Accelerator);
        var c = Case(shape);
        using var q = _fixture.Accelerator.Allocate1D(c.Q);
        using var k = _fixture.Accelerator.Allocate1D(c.K);
        using var v = _fixture.Accelerator.Allocate1D(c.V);
        using var output = _fixture.Accelerator.Allocate1D<float>(c.Output.Length);
        using var lse = _fixture.Accelerator.Allocate1D<float>(c.Lse.Length);
        attention.Forward(shape, q.View, k.View, v.View, output.View, lse.View, c.Offsets);
        _fixture.Accelerator.Synchronize();
        return output.GetAsArray1D();
    }

    private float[] Run(string method, Type kernel, AttentionShape shape)
    {
        var run = typeof(FixedShapeAttentionTests).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static)!.MakeGenericMethod(kernel);
        try
        {
            return (float[])run.Invoke(run.IsStatic ? null : this, new object[] { shape })!;
        }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            throw e.InnerException;
        }
    }

    [Fact]
    public void A_models_kernels_run_its_own_shape_as_the_standalone_kernel_does()
    {
        // The constants change no arithmetic: the same bits as the kernel that reads the shape.
        Assert.Equal(Run(nameof(RunNative), typeof(Attention32.Native), Own), Run(nameof(RunNative), Nested("NativeAttention32"), Own));
        Assert.Equal(Run(nameof(RunIlgpu), typeof(Attention32.Ilgpu), Own), Run(nameof(RunIlgpu), Nested("IlgpuAttention32"), Own));
    }

    [Theory]
    [MemberData(nameof(Others))]
    public void A_models_kernels_refuse_another_shape_by_what_they_hold(AttentionShape other)
    {
        var native = Assert.Throws<ArgumentException>(() => Run(nameof(RunNative), Nested("NativeAttention32"), other));
        var ilgpu = Assert.Throws<ArgumentException>(() => Run(nameof(RunIlgpu), Nested("IlgpuAttention32"), other));

        const string Held = "emitted for heads 2, kv heads 1, causal, RoPE base 10000, scale 0.17677669 as constants";
        Assert.Contains(Held, native.Message);
        Assert.Contains(Held, ilgpu.Message);
        Assert.Contains(other.ToString(), native.Message);
    }

    [Fact]
    public void A_models_rope_table_is_a_constant_equal_to_the_shapes_table_bit_for_bit()
    {
        // Any shape: the model's kernel answers with its own table (it refuses other shapes before using it).
        var other = new AttentionShape(2, 1, 32, causal: true, rope: true, ropeBase: 500000f);
        Assert.Equal(Own.InverseFrequencies.ToArray(), Run(nameof(NativeTable), Nested("NativeAttention32"), other));
        Assert.Equal(Own.InverseFrequencies.ToArray(), Run(nameof(IlgpuTable), Nested("IlgpuAttention32"), other));
        Assert.Equal(other.InverseFrequencies.ToArray(), Attention32.Native.InverseFrequencies(other).ToArray());
        Assert.Equal(1f / MathF.Sqrt(32), Own.Scale);
    }

    private static float[] NativeTable<TKernel>(AttentionShape shape)
        where TKernel : struct, INativeAttentionKernel => TKernel.InverseFrequencies(shape).ToArray();

    private static float[] IlgpuTable<TKernel>(AttentionShape shape)
        where TKernel : struct, IIlgpuAttentionKernel => TKernel.InverseFrequencies(shape).ToArray();

    [Fact]
    public void A_standalone_kernel_takes_any_shape()
    {
        var shape = new AttentionShape(4, 2, 32, causal: false, rope: false);

        Assert.Null(Attention32.Native.Refuses(shape));
        Assert.Null(Attention32.Ilgpu.Refuses(shape));
    }
}
