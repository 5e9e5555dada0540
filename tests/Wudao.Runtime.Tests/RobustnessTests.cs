using System;
using System.Linq;
using System.Threading.Tasks;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>Misuse that must give a clear error or a correct result, never corrupt memory or hang.</summary>
public sealed class RobustnessTests
{
    [Fact]
    public async Task Concurrent_forward_calls_on_one_native_layer_are_serialised_and_correct()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 2);
        using var layer = TopK2Gelu.Create(session, 3);
        var small = Numerics.RandomInputs(5 * 8, 1);
        var large = Numerics.RandomInputs(300 * 8, 2);
        using var xs = session.Upload(small, 5, 8);
        using var xl = session.Upload(large, 300, 8);
        float[] expectedSmall, expectedLarge;
        using (var a = layer.Forward(xs))
        {
            expectedSmall = a.Output.ToArray();
        }

        using (var b = layer.Forward(xl))
        {
            expectedLarge = b.Output.ToArray();
        }

        void Loop(DeviceTensor x, float[] expected)
        {
            for (var i = 0; i < 40; i++)
            {
                using var r = layer.Forward(x);
                Assert.Equal(expected, r.Output.ToArray());
            }
        }

        await Task.WhenAll(Task.Run(() => Loop(xs, expectedSmall)), Task.Run(() => Loop(xl, expectedLarge)));
    }

    [Fact]
    public void Impossible_buffer_lengths_are_refused_at_once()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        var before = session.Pool.Allocations;

        Assert.Throws<ArgumentOutOfRangeException>(() => session.Pool.Rent<float>((1L << 62) + 1));
        var e = Assert.Throws<ArgumentException>(() => session.Upload(new float[1], 1 << 20, 1 << 12));

        Assert.Contains("holds 4294967296 elements but 1 were given", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, session.Pool.Allocations);
    }

    [Fact]
    public void A_stage_given_offsets_past_its_rows_is_refused()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        using var layer = TopK2Gelu.Create(session, 3);
        IMoeStages stages = layer;
        using var scope = session.Pool.BeginScope();
        var meta = scope.I32(stages.MetaLength);
        var rows = scope.F32(4 * 8);
        var y = scope.F32(4 * 8);
        var offsets = new int[stages.MetaLength];
        offsets[stages.MetaOffsetsAt + 4] = 9; // expert 3 claims rows up to 9, but only 4 exist
        for (var e = 1; e < 4; e++)
        {
            offsets[stages.MetaOffsetsAt + e] = 2;
        }

        meta.CopyFromCPU(session.Accelerator.DefaultStream, offsets);

        var error = Assert.Throws<ArgumentException>(() => stages.Experts(rows, meta, y, 4));

        Assert.Contains("offsets[4] = 9", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => stages.Experts(rows.SubView(0, 8), meta, y, 4));
    }

    [Fact]
    public void A_stale_scope_cannot_release_or_use_another_calls_buffers()
    {
        using var session = Session.Create(DeviceKind.Native, threads: 1);
        var first = session.Pool.BeginScope();
        first.F32(16);
        first.Dispose();
        var second = session.Pool.BeginScope();   // reuses the first scope's pooled state
        var mine = second.F32(16);
        var allocations = session.Pool.Allocations;

        first.Dispose();                           // stale: must not return the second call's buffer
        var third = session.Pool.BeginScope();
        var other = third.F32(16);                 // so this needs a buffer of its own

        Assert.Equal(allocations + 1, session.Pool.Allocations);
        Assert.Throws<ObjectDisposedException>(() => first.F32(4));
        third.Dispose();
        second.Dispose();
        _ = mine;
        _ = other;
    }
}
