using System;

namespace Wudao;

/// <summary>A layer in checked mode (<c>CheckFinite</c>) was given a token holding a NaN or an infinity.</summary>
public sealed class NonFiniteInputException : ArgumentException
{
    public NonFiniteInputException(string message, int token)
        : base(message, "x") => Token = token;

    public NonFiniteInputException()
    {
    }

    public NonFiniteInputException(string message)
        : base(message)
    {
    }

    public NonFiniteInputException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The first token (row of x) with a non-finite value.</summary>
    public int Token { get; }
}
