using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>The expert-choice route: the one router whose choice is not per token.</summary>
internal static partial class IlgpuRouterTemplates
{
    /// <summary>
    /// Expert choice (Zhou 2022), one group: each (token, expert) pair's rank in the expert's
    /// column (score descending, ties to the lower token) decides whether the expert takes it.
    /// </summary>
    public static EmittedKernel? ExpertChoiceRoute(PlannedKernel k)
    {
        var choice = k.Nodes.FirstOrDefault(n => n.Op == Ops.ExpertChoice);
        if (choice == null)
        {
            return null;
        }

        var scan = k.Nodes.FirstOrDefault(n => n.Op == Ops.Scan);
        if (k.Nodes.Count != 2 || scan == null || scan.Operands[0] != choice.Results[3])
        {
            throw new CompileException($"k{k.Index}: no ILGPU template fuses [{string.Join(", ", k.OpNames)}]");
        }

        var ps = new List<KernelParam>
        {
            new(BindingKind.Buffer, choice.Operands[0], F, "probs"),
            new(BindingKind.Buffer, choice.Results[0], I, "experts"),
            new(BindingKind.Buffer, choice.Results[1], F, "gates"),
            new(BindingKind.Buffer, choice.Results[2], I, "slots"),
            new(BindingKind.Meta, "", I, "meta"),
            new(BindingKind.Args, "", Args, "args"),
        };
        var kept = IlgpuKernelEmitter.MetaOffset(choice.Results[3]);
        var dropped = IlgpuKernelEmitter.MetaOffset(choice.Results[4]);
        var offsets = IlgpuKernelEmitter.MetaOffset(scan.Results[0]);
        var body = $@"var unrouted = global::ILGPU.SharedMemory.Allocate<int>(MaxGroup);
int tid = global::ILGPU.Group.IdxX;
int g = global::ILGPU.Group.DimX;
int tokens = args.Tokens;
int cap = args.Capacity;

// expert_choice: pair (t, e) is taken when fewer than C tokens outrank t in column e.
for (long i = tid; i < (long)tokens * E; i += g)
{{
    int t = (int)(i / E);
    int e = (int)(i - ((long)t * E));
    float v = probs[i];
    int rank = 0;
    for (int u = 0; u < tokens && rank < cap; u++)
    {{
        float w = probs[((long)u * E) + e];
        if (w > v || (w == v && u < t))
        {{
            rank++;
        }}
    }}

    bool taken = rank < cap;
    experts[i] = taken ? e : -1;
    slots[i] = taken ? rank : -1;
    gates[i] = taken ? v : 0f;
}}

global::ILGPU.Group.Barrier();

// Tokens no expert took: each thread counts its strided share, thread 0 adds the shares.
int mine = 0;
for (int t = tid; t < tokens; t += g)
{{
    bool any = false;
    for (int e = 0; e < E; e++)
    {{
        any |= slots[((long)t * E) + e] >= 0;
    }}

    mine += any ? 0 : 1;
}}

unrouted[tid] = mine;
global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    int lost = 0;
    for (int i = 0; i < g; i++)
    {{
        lost += unrouted[i];
    }}

    // count + scan: every expert holds exactly C rows (C ≤ T), expert after expert.
    for (int e = 0; e < E; e++)
    {{
        meta[{kept} + e] = cap;
        meta[{offsets} + e] = e * cap;
    }}

    meta[{offsets} + E] = E * cap;
    meta[{dropped}] = lost;
}}
";
        var facts = new Dictionary<string, string> { ["kept"] = kept, ["offsets"] = offsets, ["dropped"] = dropped, ["expert_choice"] = "true" };
        return new EmittedKernel(k.Index, k.Space, k.Name, $"K{k.Index}Route", true, ps, body, facts);
    }
}
