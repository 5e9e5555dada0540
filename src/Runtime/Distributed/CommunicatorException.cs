using System;

namespace Wudao.Distributed;

/// <summary>
/// A collective failed: a rank left or failed, timed out, passed arguments that disagree with
/// its peers', or the MPI library reported an error. The message names the ranks involved.
/// </summary>
public sealed class CommunicatorException : Exception
{
    /// <summary>A collective failed, with no message or rank.</summary>
    public CommunicatorException()
    {
    }

    /// <summary>A collective failed, as <paramref name="message"/> says.</summary>
    public CommunicatorException(string message)
        : base(message)
    {
    }

    /// <summary>A collective failed, as <paramref name="message"/> says, caused by <paramref name="innerException"/>.</summary>
    public CommunicatorException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A collective failed because of rank <paramref name="failedRank"/> (null when unknown), as <paramref name="message"/> says.</summary>
    public CommunicatorException(string message, int? failedRank, Exception? innerException = null)
        : base(message, innerException)
    {
        FailedRank = failedRank;
    }

    /// <summary>The rank whose failure, departure or inconsistent call caused this error, when one is known.</summary>
    public int? FailedRank { get; }
}
