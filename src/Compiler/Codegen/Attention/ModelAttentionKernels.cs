using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>A model's attention kernels: per head dimension its attention nodes use, the native and the ILGPU struct, nested in the model class.</summary>
internal static class ModelAttentionKernels
{
    public static string Native(int headDim) => $"NativeAttention{headDim}";

    public static string Ilgpu(int headDim) => $"IlgpuAttention{headDim}";

    public static void Emit(SourceWriter w, KernelPlan plan)
    {
        foreach (var hd in plan.Graph.Nodes.Where(n => n.Op == Ops.Attention).Select(n => n.IntAttr("head_dim")).Distinct())
        {
            w.Line();
            NativeAttentionEmitter.Emit(w, Native(hd), hd, "private");
            w.Line();
            IlgpuAttentionEmitter.Emit(w, Ilgpu(hd), hd, "private");
        }
    }
}
