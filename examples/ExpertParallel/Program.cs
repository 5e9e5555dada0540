using System;
using System.Globalization;
using System.Linq;
using System.Text;
using ExpertParallel;
using Wudao;
using Wudao.Distributed;

// Expert parallelism: EpMoe's 8 experts spread over N ranks, each rank with its own tokens.
//   in one process:  dotnet run -c Release --project examples/ExpertParallel -- --ranks 4
//   over MPI:        mpirun -np 2 dotnet examples/ExpertParallel/bin/Release/net10.0/ExpertParallel.dll
// --tokens N sets the tokens per rank (default 512); --check also runs the whole batch on one
// rank and exits non-zero unless every rank's output and the statistics match it.
var ranks = 2;
var tokensPerRank = 512;
var check = false;
var bench = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check":
            check = true;
            break;
        case "--bench":
            bench = true;
            break;
        case "--ranks" or "--tokens" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0:
            if (args[i] == "--ranks")
            {
                ranks = Math.Max(1, v);
            }
            else
            {
                tokensPerRank = v;
            }

            i++;
            break;
        default:
            Console.Error.WriteLine($"unknown or incomplete option '{args[i]}' (use --ranks N, --tokens N, --check, --bench)");
            return 2;
    }
}

var underMpi = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") != null || Environment.GetEnvironmentVariable("PMI_SIZE") != null;
if (underMpi)
{
    return MpiCommunicator.Run(comm => bench ? ExchangeBenchmark.Run(comm, tokensPerRank) : RunRank(comm, tokensPerRank, check));
}

Console.WriteLine($"{ranks} in-process ranks, {tokensPerRank} tokens each");
var codes = InProcessCommunicator.Run(ranks, comm => bench ? ExchangeBenchmark.Run(comm, tokensPerRank) : RunRank(comm, tokensPerRank, check));
return codes.Max();

static int RunRank(ICommunicator comm, int tokensPerRank, bool check)
{
    var info = EpMoe.Info;
    using var session = Session.Create(DeviceKind.Native, threads: 1);
    using var layer = EpMoe.Create(session, seed: 42);
    var ep = new ExpertParallelLayer(layer, comm);
    var total = tokensPerRank * comm.Size;
    var x = Inputs.Make(total * info.Dim);
    using var mine = session.Upload(x.AsSpan(comm.Rank * tokensPerRank * info.Dim, tokensPerRank * info.Dim), tokensPerRank, info.Dim);
    ep.Forward(mine).Dispose();
    using var result = ep.Forward(mine);
    var report = new StringBuilder();
    report.Append(CultureInfo.InvariantCulture, $"rank {comm.Rank}/{comm.Size}: experts {ep.FirstExpert}..{ep.FirstExpert + ep.ExpertsPerRank - 1}, rows per local expert [{string.Join(", ", ep.LastLocalLoad)}], exchange {ep.LastExchangeTime.TotalMilliseconds:F2} ms");
    if (comm.Rank == 0)
    {
        report.Append('\n').Append(result.Stats.ToTable());
    }

    if (check)
    {
        // The same two calls on one rank, over the whole batch (step 1 is the compared call).
        using var whole = EpMoe.Create(session, seed: 42);
        using var all = session.Upload(x, total, info.Dim);
        whole.Forward(all).Dispose();
        using var expected = whole.Forward(all);
        var want = expected.Output.ToArray().AsSpan(comm.Rank * tokensPerRank * info.Dim, tokensPerRank * info.Dim);
        var got = result.Output.ToArray();
        var same = want.SequenceEqual(got) && expected.Stats.TokensPerExpert.SequenceEqual(result.Stats.TokensPerExpert) && expected.Stats.Dropped == result.Stats.Dropped;
        report.Append(same ? "\n  check: matches the one-rank result" : "\n  check: DIFFERS from the one-rank result");
        if (!same)
        {
            Console.WriteLine(report);
            return 3;
        }
    }

    // One rank at a time, so lines do not interleave.
    for (var r = 0; r < comm.Size; r++)
    {
        if (r == comm.Rank)
        {
            Console.WriteLine(report);
            Console.Out.Flush();
        }

        comm.Barrier();
    }

    return 0;
}
