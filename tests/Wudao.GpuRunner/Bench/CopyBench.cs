using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;
using Wudao.GpuRunner.Report;

namespace Wudao.GpuRunner.Bench;

/// <summary>
/// A device-to-device copy of 1 GiB (--quick: 16 MiB), counting bytes read plus written: the
/// memory bandwidth this run actually reaches, beside the datasheet's.
/// </summary>
public static class CopyBench
{
    public static (ResultRow Row, double Gbps) Run(Session session, BenchSettings settings)
    {
        var length = (settings.Quick ? 16L : 1024L) << 18;
        using var source = session.Accelerator.Allocate1D<float>(length);
        using var target = session.Accelerator.Allocate1D<float>(length);
        source.MemSetToZero();
        var sample = Timing.Measure(() => source.View.CopyTo(target.View), () => session.Accelerator.Synchronize(), settings.Warmup, settings.Runs);
        var gbps = 2.0 * length * sizeof(float) / (sample.Median * 1e-3) / 1e9;
        var row = new ResultRow("memory", $"device copy {length * sizeof(float) >> 20} MiB", $"ILGPU ({session.Kind})", ResultsReport.Whole, sample.Median, sample.Min, sample.Ms.Length,
            gbps, "GB/s", gbps / settings.HbmGbps, settings.MemoryCeiling, Note: "bytes read + written");
        return (row, gbps);
    }
}
