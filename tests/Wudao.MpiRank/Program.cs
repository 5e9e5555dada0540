using System;
using System.Diagnostics;
using Wudao.Distributed;
using Wudao.MpiRank;

// Scenarios:
//   exchange  every collective on deterministic data, checked against results computed directly;
//             prints "rank R of N: ok digest=D" (D hashes every received bit)
//   throw     the last rank throws after the first exchange; the job must abort
//   kill      the last rank kills itself (SIGKILL) after the first exchange; the job must end
var scenario = args.Length > 0 ? args[0] : "exchange";
return MpiCommunicator.Run(comm =>
{
    switch (scenario)
    {
        case "exchange":
            var digest = Scenarios.Exchange(comm);
            Console.WriteLine($"rank {comm.Rank} of {comm.Size}: ok digest={digest}");
            return 0;
        case "throw":
        case "kill":
            var counts = new int[comm.Size];
            var received = new int[comm.Size];
            counts.AsSpan().Fill(comm.Rank);
            comm.AllToAll(counts, received);
            Console.WriteLine($"rank {comm.Rank} of {comm.Size}: first exchange done");
            Console.Out.Flush();
            if (comm.Rank == comm.Size - 1)
            {
                if (scenario == "kill")
                {
                    Process.GetCurrentProcess().Kill();
                }

                throw new InvalidOperationException($"deliberate failure on rank {comm.Rank}");
            }

            // The survivors wait in the next exchange, which the failed rank never joins.
            comm.AllToAll(counts, received);
            Console.WriteLine($"rank {comm.Rank} of {comm.Size}: second exchange done (should not happen)");
            return 0;
        default:
            Console.Error.WriteLine($"unknown scenario '{scenario}' (exchange, throw, kill)");
            return 2;
    }
});
