using System;

namespace Wudao;

/// <summary>A safetensors file that cannot be read as it claims to be: the message names the file and the fault.</summary>
public sealed class SafeTensorsException : Exception
{
    /// <summary>A malformed file, as <paramref name="message"/> says.</summary>
    public SafeTensorsException(string message)
        : base(message)
    {
    }

    /// <summary>A malformed file, with no message.</summary>
    public SafeTensorsException()
    {
    }

    /// <summary>A malformed file, as <paramref name="message"/> says, caused by <paramref name="inner"/>.</summary>
    public SafeTensorsException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
