using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>The ILGPU gate: one thread per token, calling the gate's per-token method with thread-local scratch rows.</summary>
internal static class IlgpuGateEmitter
{
    public static string Body(GateKernel g)
    {
        var names = string.Join(", ", g.Parameters.Select(p => p.Name));
        var scratch = g.ScratchRows == 0 ? "default(global::ILGPU.ArrayView<float>)" : $"global::ILGPU.LocalMemory.Allocate<float>({g.ScratchRows} * ER)";
        return $"{g.TokenMethod}(index, {names}, {scratch}, false);";
    }
}
