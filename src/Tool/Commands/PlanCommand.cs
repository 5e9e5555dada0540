using System.CommandLine;
using Wudao.Tool.Reports;

namespace Wudao.Tool.Commands;

/// <summary><c>wudao plan</c>: graph, fusion plan, refused fusions with reasons, dtypes and memory per buffer.</summary>
public static class PlanCommand
{
    public static Command Create(ToolConsole console)
    {
        var input = new DeclarationOptions();
        var tokens = new Option<int>("--tokens", "-t")
        {
            Description = "Token count T the buffer sizes are given for",
            DefaultValueFactory = _ => 64,
        };
        tokens.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--tokens must be 0 or more");
            }
        });

        var train = new Option<bool>("--train")
        {
            Description = "Also print the backward the compiler derives for training: what is saved, what is recomputed and why, the backward graph and its kernels",
        };

        var command = new Command("plan", "Print each declaration's graph, fusion plan (kernels, refused fusions and why, schedules), and the dtype and bytes of every buffer and weight");
        input.AddTo(command);
        command.Add(tokens);
        command.Add(train);
        command.SetAction(parsed => Cli.Guarded(console, () =>
        {
            var declarations = input.Load(parsed, console, out var errors);
            var t = parsed.GetValue(tokens);
            var withTrain = parsed.GetValue(train);
            var first = true;
            foreach (var d in declarations)
            {
                if (!first)
                {
                    console.Out.WriteLine();
                }

                first = false;
                var report = new System.IO.StringWriter();
                var ok = Progress.Run(console, $"planning {d.FullName}", _ => DeclarationOptions.TryCompile(console, d, () => PlanReport.Write(report, d, t, withTrain)));
                console.Out.Write(report.ToString());
                errors += ok ? 0 : 1;
            }

            return errors > 0 ? ExitCodes.InputErrors : ExitCodes.Success;
        }));
        return command;
    }
}
