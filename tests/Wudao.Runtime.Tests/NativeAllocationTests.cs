using System;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>A steady stream of native forward calls allocates only the result it returns.</summary>
public sealed class NativeAllocationTests
{
    [Fact]
    public void Steady_state_forward_allocates_only_its_result()
    {
        // One thread: every allocation of a call happens on this thread, where it can be counted.
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var layer = TopK2Gelu.Create(session, 1);
        using var x = session.Upload(Numerics.RandomInputs(40 * TopK2Gelu.Info.Dim, 6), 40, TopK2Gelu.Info.Dim);
        for (var i = 0; i < 3; i++)
        {
            layer.Forward(x).Dispose();
        }

        const int calls = 20;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < calls; i++)
        {
            layer.Forward(x).Dispose();
        }

        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / calls;

        // The result: MoeResult, MoeStats, its per-expert array, the output tensor and its shape.
        Assert.InRange(perCall, 1, 400);
    }
}
