using System.Collections.Generic;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>The expert feed-forward kernel: a <see cref="FusedMlp"/> over expert-contiguous rows.</summary>
public sealed class ExpertKernel : KernelReading
{
    private ExpertKernel(PlannedKernel kernel, IReadOnlyList<KernelParam> parameters, FusedMlp mlp)
        : base(kernel, $"K{kernel.Index}ExpertFfn", parameters) => Mlp = mlp;

    public FusedMlp Mlp { get; }

    /// <summary>Meta offset of the scanned rows per expert, which every grouped op reads.</summary>
    public string Offsets => Meta(Mlp.Offsets);

    /// <summary>The weights its GEMMs read (w1, w2), which a schedule may repack.</summary>
    public IEnumerable<string> GemmWeights => new[] { Mlp.Up.Operands[1], Mlp.Down.Operands[1] };

    public static ExpertKernel From(PlannedKernel k, KernelPlan plan)
    {
        var mlp = FusedMlp.From(k, plan);
        var ps = new List<KernelParam>
        {
            new(BindingKind.Buffer, mlp.Up.Operands[0], F, "rows"),
            new(BindingKind.Weight, mlp.Up.Operands[1], F, "w1"),
        };
        if (mlp.UpBias != null)
        {
            ps.Add(new(BindingKind.Weight, mlp.UpBias.Operands[1], F, "b1"));
        }

        ps.Add(new(BindingKind.Weight, mlp.Down.Operands[1], F, "w2"));
        if (mlp.DownBias != null)
        {
            ps.Add(new(BindingKind.Weight, mlp.DownBias.Operands[1], F, "b2"));
        }

        ps.Add(new(BindingKind.Meta, "", I, "meta"));
        ps.Add(new(BindingKind.Buffer, mlp.Output, F, "y"));
        return new ExpertKernel(k, ps, mlp);
    }
}
