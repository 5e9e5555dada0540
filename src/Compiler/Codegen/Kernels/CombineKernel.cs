using System.Collections.Generic;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>Combine: each token's kept expert rows gathered and summed with their gates, in choice order.</summary>
public sealed class CombineKernel : KernelReading
{
    private CombineKernel(PlannedKernel kernel, IReadOnlyList<KernelParam> parameters, string offsets)
        : base(kernel, $"K{kernel.Index}Combine", parameters) => Offsets = offsets;

    /// <summary>Meta offset of the scanned rows per expert.</summary>
    public string Offsets { get; }

    public static CombineKernel From(PlannedKernel k)
    {
        if (k.Nodes.Count != 1)
        {
            throw Unfused(k);
        }

        var n = k.Nodes[0];
        var ps = new List<KernelParam>
        {
            new(BindingKind.Buffer, n.Operands[0], F, "y"),
            new(BindingKind.Buffer, n.Operands[1], I, "experts"),
            new(BindingKind.Buffer, n.Operands[2], F, "gates"),
            new(BindingKind.Buffer, n.Operands[3], I, "slots"),
            new(BindingKind.Meta, "", I, "meta"),
            new(BindingKind.Buffer, n.Results[0], F, "output"),
        };
        return new CombineKernel(k, ps, Meta(n.Operands[4]));
    }
}
