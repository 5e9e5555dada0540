using System;

namespace Wudao;

/// <summary>The output of a forward call and its routing statistics. Dispose to return the output's memory.</summary>
public sealed class MoeResult : IDisposable
{
    public MoeResult(DeviceTensor output, MoeStats stats)
    {
        Output = output;
        Stats = stats;
    }

    /// <summary>[tokens, Dim].</summary>
    public DeviceTensor Output { get; }

    public MoeStats Stats { get; }

    public void Dispose() => Output.Dispose();
}
