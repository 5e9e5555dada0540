using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// A model's attention kernels: per signature its attention kernels use (head dim, qk_norm's ε
/// when that op is fused in as the prologue, and the heads, kv heads, mask and RoPE as constants),
/// the native and the ILGPU struct, nested in the model class.
/// </summary>
internal static class ModelAttentionKernels
{
    public sealed record Signature(int HeadDim, float? QkNormEps, AttentionConstants Constants)
    {
        private string Suffix => $"{HeadDim}{(QkNormEps != null ? "QkNorm" : "")}";

        public string Native => "NativeAttention" + Suffix;

        public string Ilgpu => "IlgpuAttention" + Suffix;
    }

    /// <summary>An attention kernel's attention node and, if fused before it, its qk_norm.</summary>
    public static (Node Attention, Node? QkNorm) Nodes(PlannedKernel k) =>
        (k.Nodes.Last(n => n.Op == Ops.Attention), k.Nodes.FirstOrDefault(n => n.Op == Ops.QkNorm));

    /// <summary>The plan's attention kernels, in plan order.</summary>
    public static System.Collections.Generic.IEnumerable<PlannedKernel> Kernels(KernelPlan plan) => plan.Kernels.Where(k => k.Space == IterationSpace.Sequences);

    /// <summary>Every attention node of the plan, one per attention kernel, in plan order.</summary>
    public static System.Collections.Generic.List<Node> AttentionNodes(KernelPlan plan) => Kernels(plan).Select(k => Nodes(k).Attention).ToList();

    public static Signature Of(PlannedKernel k)
    {
        var (attention, qk) = Nodes(k);
        return new Signature(attention.IntAttr("head_dim"), qk?.FloatAttr("eps"), AttentionConstants.From(attention));
    }

    public static void Emit(SourceWriter w, KernelPlan plan)
    {
        var signatures = Kernels(plan).Select(Of).Distinct().ToList();
        var clash = signatures.GroupBy(s => s.Native).FirstOrDefault(g => g.Count() > 1);
        if (clash != null)
        {
            throw new KernelAssemblyException($"attention kernels of head dim {clash.First().HeadDim} differ ({string.Join("; ", clash)}); one model emits one kernel per head dim");
        }

        foreach (var s in signatures)
        {
            w.Line();
            NativeAttentionEmitter.Emit(w, s.Native, s.HeadDim, "private", s.QkNormEps, s.Constants);
            w.Line();
            IlgpuAttentionEmitter.Emit(w, s.Ilgpu, s.HeadDim, "private", s.QkNormEps, s.Constants);
        }
    }
}
