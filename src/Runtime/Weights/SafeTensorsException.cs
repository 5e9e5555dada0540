using System;

namespace Wudao;

/// <summary>A safetensors file that cannot be read as it claims to be: the message names the file and the fault.</summary>
public sealed class SafeTensorsException : Exception
{
    public SafeTensorsException(string message)
        : base(message)
    {
    }

    public SafeTensorsException()
    {
    }

    public SafeTensorsException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
