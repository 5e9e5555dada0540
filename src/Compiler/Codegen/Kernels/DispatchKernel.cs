using System.Collections.Generic;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>Dispatch: each kept choice's input row scattered to its expert-contiguous place.</summary>
public sealed class DispatchKernel : KernelReading
{
    private DispatchKernel(PlannedKernel kernel, IReadOnlyList<KernelParam> parameters, string offsets)
        : base(kernel, $"K{kernel.Index}Dispatch", parameters) => Offsets = offsets;

    /// <summary>Meta offset of the scanned rows per expert.</summary>
    public string Offsets { get; }

    public static DispatchKernel From(PlannedKernel k)
    {
        if (k.Nodes.Count != 1)
        {
            throw Unfused(k);
        }

        var n = k.Nodes[0];
        var ps = new List<KernelParam>
        {
            new(BindingKind.Input, n.Operands[0], F, "x"),
            new(BindingKind.Buffer, n.Operands[1], I, "experts"),
            new(BindingKind.Buffer, n.Operands[2], I, "slots"),
            new(BindingKind.Meta, "", I, "meta"),
            new(BindingKind.Buffer, n.Results[0], F, "rows"),
        };
        return new DispatchKernel(k, ps, Meta(n.Operands[3]));
    }
}
