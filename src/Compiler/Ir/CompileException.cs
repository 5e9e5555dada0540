using System;

namespace Wudao.Compiler;

/// <summary>A user-facing compile error: the message names the node or declaration at fault.</summary>
public class CompileException : Exception
{
    public CompileException(string message)
        : base(message)
    {
    }

    public CompileException()
    {
    }

    public CompileException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
