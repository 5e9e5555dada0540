using System;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using Wudao.Compiler.Codegen;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>
/// The models' tiled device GEMMs, each tile run on the test accelerator against a plain loop:
/// row counts on both sides of both tiles' boundaries, K and N off every tile, and groups of the
/// CPU accelerator's 16 threads (the tile's 256 played in turns) and of a GPU's 256.
/// </summary>
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class DeviceGemmTests
{
    private static readonly int[] RowCounts = { 0, 1, 7, 8, 9, 63, 65, 130 };

    [Theory]
    [InlineData(typeof(OddGemmLm), 16)]
    [InlineData(typeof(OddGemmLm), 256)]
    [InlineData(typeof(TinyLm), 16)]
    [InlineData(typeof(GeGluTinyLm), 16)]
    public void Every_gemm_tile_matches_a_plain_loop(Type model, int group)
    {
        // A CPU device of 32-thread warps and 8 warps gives the GPU's group; the default one has 16.
        // A CUDA device runs either group as it is.
        using var device = TestDevice.Open(group == 16 ? null : new CPUDevice(32, group / 32, 1));
        var accelerator = device.Accelerator;
        Assert.True(accelerator.AcceleratorType != AcceleratorType.CPU || accelerator.MaxNumThreadsPerGroup == group, $"the CPU accelerator's groups hold {accelerator.MaxNumThreadsPerGroup} threads, not {group}");
        var classes = model.GetNestedTypes(BindingFlags.NonPublic).Where(t => t.Name.StartsWith("DeviceLinear", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(classes);
        foreach (var type in classes)
        {
            int k = Const(type, "K"), n = Const(type, "N");
            var bias = type.Name.EndsWith("Bias", StringComparison.Ordinal);
            foreach (var (method, tile) in new[] { ("Device", IlgpuSchedule.Gemm), ("Decode", IlgpuSchedule.DecodeGemm) })
            {
                var kernel = accelerator.LoadStreamKernel(type.GetMethod(method)!.CreateDelegate<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>());
                foreach (var rows in RowCounts)
                {
                    Check(accelerator, kernel, tile, rows, k, n, bias, group, $"{model.Name}.{type.Name}.{method}, {rows} rows, group {group}");
                }
            }
        }
    }

    private static void Check(Accelerator accelerator, Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> kernel, GemmTile tile, int rows, int k, int n, bool bias, int group, string what)
    {
        var x = Numerics.RandomInputs(Math.Max(1, rows * k), rows + k);
        var w = Numerics.RandomInputs(k * n, n);
        var b = Numerics.RandomInputs(n, k + n);

        // One spare row past the output, and with no rows still one row of tiles: every store past
        // rows must be masked, leaving its NaN.
        var y = Enumerable.Repeat(float.NaN, (rows + 1) * n).ToArray();
        using var dx = accelerator.Allocate1D(x);
        using var dw = accelerator.Allocate1D(w);
        using var db = accelerator.Allocate1D(b);
        using var dy = accelerator.Allocate1D(y);
        var groups = Math.Max(1, (rows + tile.Rows - 1) / tile.Rows) * tile.ColumnTiles(n);
        kernel(new KernelConfig(groups, group), dx.View, dw.View, db.View, dy.View, rows);
        accelerator.Synchronize();
        var actual = dy.GetAsArray1D();

        var expected = new float[rows * n];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < n; c++)
            {
                var sum = bias ? (double)b[c] : 0d;
                for (var i = 0; i < k; i++)
                {
                    sum += (double)x[(r * k) + i] * w[(i * n) + c];
                }

                expected[(r * n) + c] = (float)sum;
            }
        }

        Numerics.Close(expected, actual.Take(rows * n).ToArray(), rtol: 1e-4f, atol: 1e-4f, what: what);
        Assert.True(actual.Skip(rows * n).All(float.IsNaN), $"{what}: a store past the last row");
    }

    private static int Const(Type type, string name) => (int)type.GetField(name, BindingFlags.NonPublic | BindingFlags.Static)!.GetRawConstantValue()!;
}
