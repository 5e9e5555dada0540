using System;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// libtorch's OpenMP threads spin while idle, which steals the other core on a small machine;
// glibc's mmap threshold makes libtorch re-fault its large tensors every call. .NET's
// Environment.SetEnvironmentVariable does not reach native getenv on Linux, so libc is told directly,
// before libtorch loads.
Wudao.Benchmarks.NativeEnvironment.Prepare();

// In-process: the benchmarks run from this build output, where libLibTorchSharp.so is patched.
var quick = Array.IndexOf(args, "--short") >= 0;
var medium = Array.IndexOf(args, "--medium") >= 0;
var job = (quick ? Job.ShortRun : medium ? Job.MediumRun : Job.Default).WithToolchain(InProcessEmitToolchain.Instance);
var config = DefaultConfig.Instance.AddJob(job.AsDefault()).WithOptions(ConfigOptions.DisableOptimizationsValidator);
var rest = Array.FindAll(args, a => a is not ("--short" or "--medium" or "--breakdown" or "--decode-breakdown" or "--train-breakdown"));
if (Array.IndexOf(args, "--train-breakdown") >= 0)
{
    Wudao.Benchmarks.TrainBreakdown.Print(steps: 5);
    return;
}

if (Array.IndexOf(args, "--decode-breakdown") >= 0)
{
    Wudao.Benchmarks.MixtralDecodeBenchmarks.Breakdown();
    return;
}

if (Array.IndexOf(args, "--breakdown") >= 0)
{
    Wudao.Benchmarks.KernelBreakdown.Print(calls: 10);
    return;
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest.Length == 0 ? new[] { "--filter", "*" } : rest, config);
Wudao.Benchmarks.MixtralDecodeBenchmarks.Print(summaries);
Wudao.Benchmarks.KernelBreakdown.Print(calls: quick ? 5 : 20);
