using System;

namespace Wudao.Distributed;

/// <summary>
/// A collective failed: a rank left or failed, timed out, passed arguments that disagree with
/// its peers', or the MPI library reported an error. The message names the ranks involved.
/// </summary>
public sealed class CommunicatorException : Exception
{
    public CommunicatorException()
    {
    }

    public CommunicatorException(string message)
        : base(message)
    {
    }

    public CommunicatorException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public CommunicatorException(string message, int? failedRank, Exception? innerException = null)
        : base(message, innerException)
    {
        FailedRank = failedRank;
    }

    /// <summary>The rank whose failure, departure or inconsistent call caused this error, when one is known.</summary>
    public int? FailedRank { get; }
}
