using System;
using Spectre.Console;

namespace Wudao.Tool;

/// <summary>
/// A spinner with a status line on the error stream while long work runs (Roslyn loading the
/// sources, the compiler planning, shards being read) — drawn only when a person watches the
/// terminal, so redirected output and tests never see control codes.
/// </summary>
public static class Progress
{
    public static T Run<T>(ToolConsole console, string status, Func<Action<string>, T> work)
    {
        if (!console.Interactive)
        {
            return work(_ => { });
        }

        var terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(console.Error) });
        return terminal.Status().Spinner(Spinner.Known.Dots).Start(Markup.Escape(status), ctx => work(s => ctx.Status(Markup.Escape(s))));
    }
}
