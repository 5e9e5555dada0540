using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>The expert feed-forward kernel: a <see cref="FusedMlp"/> over expert-contiguous rows.</summary>
public sealed class ExpertKernel : KernelReading
{
    private ExpertKernel(PlannedKernel kernel, IReadOnlyList<KernelParam> parameters, FusedMlp mlp, string? savedHidden)
        : base(kernel, $"K{kernel.Index}ExpertFfn", parameters)
    {
        Mlp = mlp;
        SavedHidden = savedHidden;
    }

    public FusedMlp Mlp { get; }

    /// <summary>The hidden rows before the activation, when a training forward saves them for backward (MegaBlocks: recompute the activation, keep its input).</summary>
    public string? SavedHidden { get; }

    /// <summary>Meta offset of the scanned rows per expert, which every grouped op reads.</summary>
    public string Offsets => Meta(Mlp.Offsets);

    /// <summary>The weights its GEMMs read (w1, w2), which a schedule may repack.</summary>
    public IEnumerable<string> GemmWeights => new[] { Mlp.Up.Operands[1], Mlp.Down.Operands[1] };

    public static ExpertKernel From(PlannedKernel k, KernelPlan plan, IReadOnlyCollection<string>? saved = null)
    {
        var mlp = FusedMlp.From(k, plan);
        var hidden = (mlp.UpBias ?? mlp.Up).Results[0];
        var inside = k.Nodes.SelectMany(n => n.Results).Where(r => saved != null && saved.Contains(r)).ToList();
        if (inside.FirstOrDefault(r => r != hidden) is { } other)
        {
            throw new KernelAssemblyException($"k{k.Index}: the backward reads %{other}, which the expert kernel keeps in registers; it saves only its hidden rows %{hidden}");
        }

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
        return new ExpertKernel(k, ps, mlp, inside.Count > 0 ? hidden : null);
    }
}
