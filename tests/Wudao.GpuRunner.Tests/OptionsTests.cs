using System;
using Wudao.GpuRunner;
using Xunit;

namespace Wudao.GpuRunner.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Bench_takes_its_folder_accelerator_and_ceilings()
    {
        var o = RunnerOptions.Parse(new[] { "bench", "parts", "--accelerator", "cuda", "--quick", "--hbm-gbps", "3350", "--only", "copy, mixtral" });

        Assert.Equal("bench", o.Command);
        Assert.Equal(new[] { "parts" }, o.Folders);
        Assert.Equal(DeviceKind.Cuda, o.Accelerator);
        Assert.True(o.Quick);
        Assert.Equal(3350, o.HbmGbps);
        Assert.Equal(67, o.PeakTflops);
        Assert.Equal("given", o.PeakSource);
        Assert.Equal(new[] { "copy", "mixtral" }, o.Only);
    }

    [Fact]
    public void The_ceilings_default_to_the_h200_datasheet_and_a_source_can_be_named()
    {
        Assert.Equal("datasheet, NVIDIA H200 SXM", RunnerOptions.Parse(new[] { "test", "p" }).PeakSource);
        var o = RunnerOptions.Parse(new[] { "bench", "p", "--hbm-gbps", "3350", "--peak-source", "datasheet, NVIDIA H100 SXM" });
        Assert.Equal("datasheet, NVIDIA H100 SXM", o.PeakSource);
    }

    [Theory]
    [InlineData(new string[0], "no command given")]
    [InlineData(new[] { "run", "x" }, "unknown command 'run'")]
    [InlineData(new[] { "report", "parts" }, "report takes 2 folders, got 1")]
    [InlineData(new[] { "test", "p", "--accelerator", "opencl" }, "WUDAO_TEST_ACCELERATOR='opencl' is not one of cpu, cuda")]
    [InlineData(new[] { "bench", "p", "--hbm-gbps", "-1" }, "--hbm-gbps takes a positive number, not '-1'")]
    [InlineData(new[] { "bench", "p", "--fast" }, "unknown option '--fast'")]
    [InlineData(new[] { "bench", "p", "--exchange" }, "--exchange needs a value")]
    public void Mistakes_are_refused_with_what_is_wrong(string[] args, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => RunnerOptions.Parse(args));

        Assert.Equal(message, e.Message);
    }
}
