using System;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>
/// The sample op's device kernel (greedy: the argmax of a row where the logits are) against the
/// host's scan from id 0, on the test accelerator with groups of 1 to 256 threads: ties to the
/// lower id, −0 equal to +0, a NaN never taken unless it is logit 0, rows of −∞ and of NaN.
/// </summary>
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class DeviceSamplerTests
{
    private static float[][] Rows(int vocab)
    {
        var rng = new Random(3);
        var rows = Enumerable.Range(0, 40).Select(_ => Enumerable.Range(0, vocab).Select(_ => (float)(rng.Next(-4, 5) * 0.5)).ToArray()).ToList();
        float[] Row(Action<float[]> set)
        {
            var r = Enumerable.Repeat(-1f, vocab).ToArray();
            set(r);
            return r;
        }

        rows.Add(Row(r => { r[vocab / 3] = -0f; r[vocab - 1] = 0f; }));
        rows.Add(Row(r => { r[vocab - 1] = 2f; r[vocab / 2] = 2f; }));
        rows.Add(Row(r => { r[0] = float.NaN; r[5] = 9f; }));
        rows.Add(Row(r => { r[3] = float.NaN; r[vocab - 2] = 1f; }));
        rows.Add(Row(r => Array.Fill(r, float.NegativeInfinity)));
        rows.Add(Row(r => Array.Fill(r, float.NaN)));
        rows.Add(Row(r => { Array.Fill(r, float.NaN); r[vocab - 1] = -5f; }));
        rows.Add(Row(r => r[vocab - 1] = float.PositiveInfinity));
        return rows.ToArray();
    }

    [Theory]
    [InlineData(typeof(TinyLm), 16)]
    [InlineData(typeof(TinyLm), 3)]
    [InlineData(typeof(TinyLm), 1)]
    [InlineData(typeof(TinyVocabLm), 16)]
    [InlineData(typeof(OddGemmLm), 256)]
    public void Device_argmax_is_the_hosts_scan(Type model, int group)
    {
        using var device = TestDevice.Open(group == 256 ? new CPUDevice(32, 8, 1) : null);
        var accelerator = device.Accelerator;
        var type = model.GetNestedTypes(BindingFlags.NonPublic).Single(t => t.Name.StartsWith("DeviceSampler", StringComparison.Ordinal));
        var vocab = int.Parse(type.Name["DeviceSampler".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var kernel = accelerator.LoadStreamKernel(type.GetMethod("ArgMax")!.CreateDelegate<Action<ArrayView<float>, ArrayView<int>>>());
        using var next = accelerator.Allocate1D<int>(1);
        foreach (var row in Rows(vocab))
        {
            using var logits = accelerator.Allocate1D(row);
            kernel(new KernelConfig(1, group), logits.View, next.View);
            accelerator.Synchronize();
            Assert.Equal(SamplerReference.ArgMax(row), next.GetAsArray1D()[0]);
        }
    }

    [Fact]
    public void Device_argmax_compiles_to_ptx()
    {
        var method = typeof(TinyLm).GetNestedTypes(BindingFlags.NonPublic).Single(t => t.Name.StartsWith("DeviceSampler", StringComparison.Ordinal)).GetMethod("ArgMax")!;
        foreach (var arch in new[] { 80, 90 })
        {
            Assert.Contains(".entry", Ptx.Compile(method, grouped: true, arch), StringComparison.Ordinal);
        }
    }
}
