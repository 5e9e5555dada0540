using System.Collections.Generic;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The gate kernel, read from its ops: every router's gate is its ops' per-token fragments in
/// node order (<see cref="TokenBody"/>, ILGPU C# that both targets call), so a router is its ops,
/// not a template per router.
/// </summary>
public sealed class GateKernel : KernelReading
{
    private GateKernel(PlannedKernel kernel, RouterTokenFragments.TokenGate token)
        : base(kernel, $"K{kernel.Index}Gate", token.Parameters)
    {
        TokenBody = token.Body;
        ScratchRows = token.ScratchRows;
        LogitWeights = token.LogitWeights;
        GemvLoad = token.GemvLoad;
        Saves = token.Saves;
        SavingBody = token.SavingBody;
    }

    /// <summary>The buffers a training forward writes for backward; empty when the gate saves nothing.</summary>
    public IReadOnlyList<KernelParam> Saves { get; }

    /// <summary>The token body that also writes <see cref="Saves"/>; null when it saves nothing.</summary>
    public string? SavingBody { get; }

    /// <summary>The gate's body for token <c>ti</c>.</summary>
    public string TokenBody { get; }

    /// <summary>Scratch rows of ER floats the token body uses.</summary>
    public int ScratchRows { get; }

    /// <summary>Parameters of the router weights whose GEMVs a schedule may compute ahead and pass ready in scratch rows 0, 1, ….</summary>
    public IReadOnlyList<string> LogitWeights { get; }

    /// <summary>
    /// How a schedule batching the router GEMVs loads their row's element (token, column, args,
    /// the input element's expression), when on-load ops such as jitter stand between them and
    /// the input; null when the GEMVs read the input as it is.
    /// </summary>
    public System.Func<string, string, string, string, string>? GemvLoad { get; }

    /// <summary>The shared per-token method's name.</summary>
    public string TokenMethod => $"K{Index}Token";

    public static GateKernel From(PlannedKernel k, KernelPlan plan, IReadOnlyCollection<string>? saved = null) => new(k, RouterTokenFragments.Read(k, plan, saved));
}
