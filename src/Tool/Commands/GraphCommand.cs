using System.CommandLine;
using System.IO;
using Wudao.Compiler;
using Wudao.Compiler.Plan;
using Wudao.Tool.Sources;

namespace Wudao.Tool.Commands;

/// <summary><c>wudao graph</c>: one declaration's graph with its plan's kernels as clusters, as DOT or (through Graphviz) SVG.</summary>
public static class GraphCommand
{
    public static Command Create(ToolConsole console)
    {
        var input = new DeclarationOptions();
        var format = new Option<string>("--format", "-f")
        {
            Description = "dot: Graphviz's text form; svg: a picture, drawn by Graphviz's `dot` (Debian package graphviz)",
            DefaultValueFactory = _ => "dot",
        };
        format.AcceptOnlyFromAmong("dot", "svg");
        var output = new Option<FileInfo?>("--output", "-o")
        {
            Description = "Write the graph to this file instead of standard output",
        };

        var command = new Command("graph", "Draw one declaration's graph: a cluster per plan kernel (k0 gate, …), ops as boxes, weights as cylinders, values crossing kernels in bold");
        input.AddTo(command);
        command.Add(format);
        command.Add(output);
        command.SetAction(parsed => Cli.Guarded(console, () =>
        {
            var declarations = input.Load(parsed, console, out var errors);
            if (declarations.Count > 1)
            {
                throw new ToolException($"{declarations.Count} declarations found; draw one with --class ({string.Join(", ", System.Linq.Enumerable.Select(declarations, d => d.FullName))})");
            }

            var declared = declarations[0];
            KernelPlan? plan = null;
            if (!DeclarationOptions.TryCompile(console, declared, () => plan = PlanOf(declared)))
            {
                return ExitCodes.InputErrors;
            }

            var text = PlanDot.Print(plan!);
            if (parsed.GetValue(format) == "svg")
            {
                var dot = text;
                text = Progress.Run(console, "drawing with Graphviz", _ => Graphviz.Render(dot, "svg", console.SearchPath));
            }

            if (parsed.GetValue(output) is { } file)
            {
                try
                {
                    File.WriteAllText(file.FullName, text);
                }
                catch (System.Exception e) when (e is IOException or System.UnauthorizedAccessException)
                {
                    throw new ToolException($"cannot write {DisplayPath.Of(file.FullName)}: {e.Message}");
                }

                console.Error.WriteLine($"wrote {DisplayPath.Of(file.FullName)}");
            }
            else
            {
                console.Out.Write(text);
            }

            return errors > 0 ? ExitCodes.InputErrors : ExitCodes.Success;
        }));
        return command;
    }

    private static KernelPlan PlanOf(Declared declared) => declared switch
    {
        DeclaredLayer layer => MoeCompiler.Compile(layer.Spec).Plan,
        DeclaredModel model => ModelCompiler.Compile(model.Spec).Plan,
        _ => throw new ToolException($"{declared.FullName} is an attention kernel: one fused op, no graph to draw"),
    };
}
