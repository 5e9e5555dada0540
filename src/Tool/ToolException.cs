using System;

namespace Wudao.Tool;

/// <summary>A problem the user can act on: printed as one clear message, never as a stack trace.</summary>
public sealed class ToolException : Exception
{
    public ToolException(string message, int exitCode = ExitCodes.Unusable)
        : base(message)
    {
        ExitCode = exitCode;
    }

    public int ExitCode { get; }
}
