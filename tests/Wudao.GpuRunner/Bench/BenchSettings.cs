using System.Globalization;

namespace Wudao.GpuRunner.Bench;

/// <summary>
/// How the benchmarks run: the shapes (full, or --quick's small ones for ILGPU's CPU accelerator),
/// warm-up and timed runs, the ceilings the rates are divided by, and where the peer's files go.
/// </summary>
/// <param name="Quick">Small shapes and few runs: a smoke run, not a measurement.</param>
/// <param name="PeakTflops">fp32 peak, TFLOP/s.</param>
/// <param name="HbmGbps">Memory bandwidth, GB/s.</param>
/// <param name="PeakSource">Where the two ceilings come from ("datasheet, NVIDIA H200 SXM", or "given").</param>
/// <param name="Exchange">The folder for torch_moe.py's inputs; null writes none.</param>
public sealed record BenchSettings(bool Quick, double PeakTflops, double HbmGbps, string PeakSource, string? Exchange)
{
    public int Warmup => Quick ? 1 : 3;

    public int Runs => Quick ? 3 : 10;

    /// <summary>Milliseconds one measurement may take after its first warm-up (see <see cref="Timing.Measure"/>); unlimited with --quick.</summary>
    public double BudgetMs => Quick ? double.PositiveInfinity : 10_000;

    public string FlopCeiling => string.Create(CultureInfo.InvariantCulture, $"fp32 peak {PeakTflops:0.#} TFLOP/s ({PeakSource})");

    public string MemoryCeiling => string.Create(CultureInfo.InvariantCulture, $"HBM {HbmGbps:0} GB/s ({PeakSource})");
}
