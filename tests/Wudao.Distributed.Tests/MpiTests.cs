using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Wudao.Distributed;
using Wudao.MpiRank;
using Xunit;

namespace Wudao.Distributed.Tests;

/// <summary>
/// Starts the rank program (tests/Wudao.MpiRank) under mpirun. Skipped, with the reason, where
/// OpenMPI's mpirun is not on PATH; .ci/run installs OpenMPI so CI always runs these.
/// </summary>
public class MpiTests
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(40);

    private static readonly string? Mpirun = FindOnPath("mpirun");

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Mpi_ranks_pass_every_exchange_with_the_same_bits_as_in_process_ranks(int size)
    {
        SkipWithoutMpi();
        var job = RunJob(size, "exchange");

        Assert.False(job.TimedOut, $"mpirun did not finish within {JobTimeout}:\n{job.Output}");
        Assert.True(job.ExitCode == 0, $"mpirun exited with {job.ExitCode}:\n{job.Output}");
        var digests = new string?[size];
        foreach (Match m in Regex.Matches(job.Output, @"^rank (\d+) of (\d+): ok digest=([0-9a-f]{16})$", RegexOptions.Multiline))
        {
            Assert.Equal(size, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
            digests[int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)] = m.Groups[3].Value;
        }

        Assert.True(digests.All(d => d is not null), $"not every rank reported ok:\n{job.Output}");
        var inProcess = InProcessCommunicator.Run(size, Scenarios.Exchange, TimeSpan.FromSeconds(20));
        Assert.Equal(inProcess, digests);
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void A_moe_layer_over_mpi_ranks_gives_the_one_rank_result(int size)
    {
        SkipWithoutMpi();
        var job = RunProgram(size, Path.Combine(AppContext.BaseDirectory, "ExpertParallel.dll"), "--check", "--tokens", "48");

        Assert.False(job.TimedOut, $"mpirun did not finish within {JobTimeout}:\n{job.Output}");
        Assert.True(job.ExitCode == 0, $"mpirun exited with {job.ExitCode}:\n{job.Output}");
        Assert.Equal(size, Regex.Matches(job.Output, "check: matches the one-rank result").Count);
        for (var r = 0; r < size; r++)
        {
            Assert.Contains($"rank {r}/{size}: experts", job.Output, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void A_rank_that_throws_mid_run_aborts_the_job_with_its_error()
    {
        SkipWithoutMpi();
        var job = RunJob(2, "throw");

        Assert.False(job.TimedOut, $"mpirun hung after a rank failed:\n{job.Output}");
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 1 of 2 failed: System.InvalidOperationException: deliberate failure on rank 1", job.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("should not happen", job.Output, StringComparison.Ordinal);
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(30), $"the job took {job.Elapsed} to end");
    }

    [SkippableFact]
    public void A_rank_killed_mid_run_ends_the_job_with_a_non_zero_exit()
    {
        SkipWithoutMpi();
        var job = RunJob(2, "kill");

        Assert.False(job.TimedOut, $"mpirun hung after a rank was killed:\n{job.Output}");
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 0 of 2: first exchange done", job.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("should not happen", job.Output, StringComparison.Ordinal);
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(30), $"the job took {job.Elapsed} to end");
    }

    [Fact]
    public void Without_libmpi_creating_the_communicator_fails_saying_why()
    {
        // Runs everywhere: no mpirun, and a library name that does not exist.
        var job = Run(
            Dotnet(),
            [RankProgram(), "exchange"],
            new Dictionary<string, string> { ["WUDAO_MPI_LIBRARY"] = "libwudao-no-such-mpi.so.40" },
            JobTimeout);

        Assert.False(job.TimedOut, job.Output);
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("cannot start an MPI rank: MPI is not available: cannot load libwudao-no-such-mpi.so.40", job.Output, StringComparison.Ordinal);
    }

    private static void SkipWithoutMpi() =>
        Skip.If(Mpirun is null, "OpenMPI is not installed: mpirun is not on PATH (apt-get install openmpi-bin libopenmpi-dev; .ci/run installs it)");

    private static Job RunJob(int size, string scenario) => RunProgram(size, RankProgram(), scenario);

    private static Job RunProgram(int size, string program, params string[] programArgs)
    {
        var env = new Dictionary<string, string>
        {
            ["TERM"] = "dumb",
            ["OMPI_ALLOW_RUN_AS_ROOT"] = "1",
            ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1",
        };
        string[] args =
        [
            "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", size.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Dotnet(), program, .. programArgs,
        ];
        return Run(Mpirun!, args, env, JobTimeout);
    }

    private static string RankProgram()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Wudao.MpiRank.dll");
        Assert.True(File.Exists(path), $"the rank program is missing: {path}");
        return path;
    }

    private static string Dotnet()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            return self;
        }

        return FindOnPath("dotnet") ?? "dotnet";
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Runs a process to its end or the timeout (then kills its whole tree), capturing stdout and stderr together.</summary>
    private static Job Run(string file, IEnumerable<string> args, IDictionary<string, string> env, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env)
        {
            start.Environment[key] = value;
        }

        var output = new StringBuilder();
        var gate = new object();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (gate)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (gate)
                {
                    output.AppendLine(e.Data);
                }
            }
        };

        var watch = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var timedOut = !process.WaitForExit(timeout);
        if (timedOut)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        else
        {
            process.WaitForExit(); // drains the redirected streams
        }

        watch.Stop();
        lock (gate)
        {
            return new Job(timedOut ? -1 : process.ExitCode, output.ToString(), watch.Elapsed, timedOut);
        }
    }

    private sealed record Job(int ExitCode, string Output, TimeSpan Elapsed, bool TimedOut);
}
