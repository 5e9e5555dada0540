using System;

namespace Wudao;

/// <summary>A layer in checked mode (<c>CheckFinite</c>) was given a token holding a NaN or an infinity.</summary>
public sealed class NonFiniteInputException : ArgumentException
{
    /// <summary>A non-finite value was found first in row <paramref name="token"/> of x, as <paramref name="message"/> says.</summary>
    public NonFiniteInputException(string message, int token)
        : base(message, "x") => Token = token;

    /// <summary>A non-finite input, with no message or token.</summary>
    public NonFiniteInputException()
    {
    }

    /// <summary>A non-finite input, as <paramref name="message"/> says.</summary>
    public NonFiniteInputException(string message)
        : base(message)
    {
    }

    /// <summary>A non-finite input, as <paramref name="message"/> says, caused by <paramref name="inner"/>.</summary>
    public NonFiniteInputException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The first token (row of x) with a non-finite value.</summary>
    public int Token { get; }
}
