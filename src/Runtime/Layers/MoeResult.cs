using System;

namespace Wudao;

/// <summary>The output of a forward call and its routing statistics. Dispose to return the output's memory.</summary>
public sealed class MoeResult : IDisposable
{
    /// <summary>Pairs an output with its statistics; the result owns <paramref name="output"/>.</summary>
    public MoeResult(DeviceTensor output, MoeStats stats)
    {
        Output = output;
        Stats = stats;
    }

    /// <summary>[tokens, Dim].</summary>
    public DeviceTensor Output { get; }

    /// <summary>Routing statistics of the call.</summary>
    public MoeStats Stats { get; }

    /// <summary>Returns the output's memory to the pool.</summary>
    public void Dispose() => Output.Dispose();
}
