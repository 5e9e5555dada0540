using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ILGPU target: one kernel per planned kernel, assembled from its reading. Compile-time
/// shapes are constants of the enclosing <c>Kernels</c> class (D, E, K, H, H1, and the schedule's
/// TM, HC); the token count arrives in <c>LayerArgs</c>.
/// </summary>
public static class IlgpuKernelEmitter
{
    public static IReadOnlyList<EmittedKernel> Emit(KernelPlan plan) => Emit(plan, KernelReading.ReadAll(plan));

    public static IReadOnlyList<EmittedKernel> Emit(KernelPlan plan, IReadOnlyList<KernelReading> readings)
    {
        var result = new List<EmittedKernel>();
        foreach (var reading in readings)
        {
            var emitted = reading switch
            {
                GateKernel g => new EmittedKernel(g, false, IlgpuGateEmitter.Body(g)),
                RouteKernel r => new EmittedKernel(r, true, IlgpuRouteEmitter.Body(r)),
                DispatchKernel d => new EmittedKernel(d, false, Dispatch(d)),
                ExpertKernel x => new EmittedKernel(x, true, IlgpuExpertEmitter.Body(x)),
                CombineKernel c => new EmittedKernel(c, false, Combine(c)),
                _ => throw KernelReading.Unfused(reading.Kernel),
            };
            CheckWritten(reading.Kernel, plan, emitted);
            result.Add(emitted);
        }

        return result;
    }

    private static string Dispatch(DispatchKernel d)
    {
        var body = $@"// scatter: choice c = t*K + j of token t goes to row offsets[expert] + slot.
int i = index;
int c = i / D;
int d = i - (c * D);
int slot = slots[c];
if (slot < 0)
{{
    return;
}}

long row = meta[{d.Offsets} + experts[c]] + slot;
rows[(row * D) + d] = x[((long)(c / K) * D) + d];
";
        return body;
    }

    private static string Combine(CombineKernel c)
    {
        var body = $@"// gather + weighted sum over the token's kept choices, in choice order.
int i = index;
int t = i / D;
int d = i - (t * D);
float acc = 0f;
for (int j = 0; j < K; j++)
{{
    long c = ((long)t * K) + j;
    int slot = slots[c];
    if (slot >= 0)
    {{
        long row = meta[{c.Offsets} + experts[c]] + slot;
        acc += gates[c] * y[(row * D) + d];
    }}
    else if (gates[c] != gates[c])
    {{
        // A non-finite token chose no expert: its output is NaN, not zero.
        acc = float.NaN;
    }}
}}

output[i] = acc;
";
        return body;
    }

    private static void CheckWritten(PlannedKernel kernel, KernelPlan plan, EmittedKernel emitted)
    {
        var written = new HashSet<string>(emitted.Parameters.Where(p => p.Kind == BindingKind.Buffer).Select(p => p.Value));
        foreach (var m in plan.Materialized.Where(m => m.Kernel == kernel.Index && m.Type.Shape.Any(d => d.IsSymbolic)))
        {
            if (!written.Contains(m.Value))
            {
                throw new CompileException($"k{kernel.Index} {kernel.Name}: %{m.Value} is read outside the kernel, but the fused template keeps it in registers");
            }
        }
    }

}
