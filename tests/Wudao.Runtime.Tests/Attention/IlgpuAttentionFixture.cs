using System;
using ILGPU;
using ILGPU.Runtime;
using Wudao.Attention;

namespace Wudao.Runtime.Tests;

/// <summary>The test accelerator (<see cref="TestAccelerator"/>), opened once for the attention kernel tests (it is slow to start).</summary>
public sealed class IlgpuAttentionFixture : IDisposable
{
    private readonly TestDevice _device = TestDevice.Open();

    public Context Context => _device.Context;

    public Accelerator Accelerator => _device.Accelerator;

    private readonly System.Collections.Generic.Dictionary<int, IlgpuAttention> _kernels = new();

    /// <summary>The declared kernel of a shape's head dimension, loaded once.</summary>
    public IlgpuAttention For(AttentionShape shape)
    {
        if (!_kernels.TryGetValue(shape.HeadDim, out var kernel))
        {
            kernel = AttentionKernels.Device(Accelerator, shape.HeadDim);
            _kernels.Add(shape.HeadDim, kernel);
        }

        return kernel;
    }

    /// <summary>Uploads a case, runs the ILGPU kernel, and returns output and lse.</summary>
    public (float[] Output, float[] Lse) Run(AttentionShape shape, AttentionCase c, int[]? positions = null)
    {
        using var q = Accelerator.Allocate1D(c.Q);
        using var k = Accelerator.Allocate1D(c.K);
        using var v = Accelerator.Allocate1D(c.V);
        using var output = Accelerator.Allocate1D<float>(c.Output.Length);
        using var lse = Accelerator.Allocate1D<float>(c.Lse.Length);
        output.MemSetToZero();
        For(shape).Forward(shape, q.View, k.View, v.View, output.View, lse.View, c.Offsets, positions);
        Accelerator.Synchronize();
        return (output.GetAsArray1D(), lse.GetAsArray1D());
    }

    /// <summary>Uploads packed q, k, v, runs the cached forward into <paramref name="cache"/>, and returns output and lse.</summary>
    public (float[] Output, float[] Lse) RunCached(AttentionShape shape, IlgpuKvCache cache, float[] q, float[] k, float[] v, int[] offsets)
    {
        using var dq = Accelerator.Allocate1D(q);
        using var dk = Accelerator.Allocate1D(k);
        using var dv = Accelerator.Allocate1D(v);
        using var output = Accelerator.Allocate1D<float>(q.Length);
        using var lse = Accelerator.Allocate1D<float>(offsets[^1] * shape.Heads);
        For(shape).Forward(shape, cache, dq.View, dk.View, dv.View, output.View, lse.View, offsets);
        Accelerator.Synchronize();
        return (output.GetAsArray1D(), lse.GetAsArray1D());
    }

    public void Dispose()
    {
        foreach (var kernel in _kernels.Values)
        {
            kernel.Dispose();
        }

        _device.Dispose();
    }
}
