using System.CommandLine;
using System.IO;
using Wudao.Tool.Checkpoints;
using Wudao.Tool.Reports;

namespace Wudao.Tool.Commands;

/// <summary><c>wudao inspect</c>: a safetensors file's or checkpoint folder's tensors, totals, metadata, and header checks.</summary>
public static class InspectCommand
{
    public static Command Create(ToolConsole console)
    {
        var path = new Argument<string>("path")
        {
            Description = "A .safetensors file, or a checkpoint folder (every *.safetensors in it, and model.safetensors.index.json when present)",
        };
        var command = new Command("inspect", "List a checkpoint's tensors (name, dtype, shape, parameters, bytes), totals and metadata, and check its headers: length, JSON, dtypes, sizes against shapes, offsets in bounds, no overlaps or holes, the index against the shards")
        {
            path,
        };
        command.SetAction(parsed => Cli.Guarded(console, () =>
        {
            var target = parsed.GetValue(path)!;
            // Problems name files as the report does: relative to the working folder where they lie under it.
            var full = DisplayPath.Of(Path.GetFullPath(target));
            System.Collections.Generic.IReadOnlyList<string> problems;
            if (Directory.Exists(full))
            {
                var checkpoint = Progress.Run(console, "reading shards", status => CheckpointFolder.Read(full, status));
                problems = InspectReport.Write(console.Out, full, checkpoint);
            }
            else if (File.Exists(full))
            {
                problems = InspectReport.Write(console.Out, ShardCheck.Read(full));
            }
            else
            {
                throw new ToolException($"no such file or folder: {target}");
            }

            foreach (var p in problems)
            {
                console.Error.WriteLine("error: " + p);
            }

            console.Out.WriteLine(problems.Count == 0 ? "checks: ok" : $"checks: {problems.Count} {(problems.Count == 1 ? "problem" : "problems")} (listed on standard error)");
            return problems.Count == 0 ? ExitCodes.Success : ExitCodes.InputErrors;
        }));
        return command;
    }
}
