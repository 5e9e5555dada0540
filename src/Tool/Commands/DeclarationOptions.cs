using System.Collections.Generic;
using System.CommandLine;
using Wudao.Compiler;
using Wudao.Tool.Sources;

namespace Wudao.Tool.Commands;

/// <summary>The input every declaration command takes (paths and <c>--class</c>), and loading it.</summary>
public sealed class DeclarationOptions
{
    public Argument<string[]> Paths { get; } = new("path")
    {
        Description = "A .csproj (every .cs under its folder, bin/ and obj/ left out), a folder, or .cs files",
        Arity = ArgumentArity.OneOrMore,
    };

    public Option<string?> Class { get; } = new("--class", "-c")
    {
        Description = "Only the declaration of this class (its name or full name; a model's MoE layer by its generated name, e.g. TinyMoeLmMoe)",
    };

    public void AddTo(Command command)
    {
        command.Add(Paths);
        command.Add(Class);
    }

    /// <summary>
    /// The selected declarations, after writing every WD diagnostic to the error stream;
    /// <paramref name="errors"/> is how many of those are errors.
    /// </summary>
    public IReadOnlyList<Declared> Load(ParseResult parsed, ToolConsole console, out int errors)
    {
        var paths = parsed.GetValue(Paths)!;
        var found = Progress.Run(console, "reading declarations", _ => DeclarationLoader.Load(SourceSet.Resolve(paths)));
        errors = DeclarationLoader.Report(found.Diagnostics, console.Error);
        if (found.Count == 0)
        {
            throw new ToolException(errors > 0
                ? $"no valid declaration: fix the {errors} error(s) above"
                : $"no [MoeLayer], [MoeTransformer] or [AttentionKernel] class in {string.Join(", ", paths)}", errors > 0 ? ExitCodes.InputErrors : ExitCodes.Unusable);
        }

        return Declared.Select(found, parsed.GetValue(Class));
    }

    /// <summary>Compiler failures were reported by the generator too (WD0008, WD0014); here they name the declaration.</summary>
    public static bool TryCompile(ToolConsole console, Declared declared, System.Action compile)
    {
        try
        {
            compile();
            return true;
        }
        catch (CompileException e)
        {
            console.Error.WriteLine($"wudao: could not compile {declared.FullName}: {e.Message}");
            return false;
        }
    }
}
