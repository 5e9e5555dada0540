using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The gate kernel, read from its ops. Softmax top-k routers are assembled per target from the
/// optional steps they hold (jitter, top-k, renorm, second-expert drop, logsumexp); any other
/// gate is its ops' per-token fragments in node order (<see cref="TokenBody"/>), which both targets call.
/// </summary>
public sealed class GateKernel : KernelReading
{
    private GateKernel(PlannedKernel kernel, IReadOnlyList<KernelParam> parameters)
        : base(kernel, $"K{kernel.Index}Gate", parameters)
    {
    }

    /// <summary>Jitter's eps as a C# literal; null without jitter.</summary>
    public string? Jitter { get; private set; }

    public bool TopK { get; private set; }

    public bool Renorm { get; private set; }

    public bool SecondDrop { get; private set; }

    public bool LogSumExp { get; private set; }

    /// <summary>A per-token router's body for token <c>ti</c> (ILGPU C#, which both targets run); null for softmax top-k.</summary>
    public string? TokenBody { get; private set; }

    /// <summary>Scratch rows of ER floats the token body uses.</summary>
    public int ScratchRows { get; private set; }

    /// <summary>Parameters of the router weights whose GEMVs a schedule may compute ahead and pass ready in scratch rows 0, 1, ….</summary>
    public IReadOnlyList<string> LogitWeights { get; private set; } = new string[0];

    /// <summary>The shared per-token method's name.</summary>
    public string TokenMethod => $"K{Index}Token";

    public static GateKernel From(PlannedKernel k, KernelPlan plan)
    {
        if (RouterTokenFragments.Read(k, plan) is { } token)
        {
            return new GateKernel(k, token.Parameters)
            {
                TokenBody = token.Body,
                ScratchRows = token.ScratchRows,
                LogitWeights = token.LogitWeights,
            };
        }

        // [jitter] matmul softmax [topk, then any of renorm, second_drop], [logsumexp]. Without
        // topk (expert choice) the gate only writes the router probabilities.
        var known = new[] { Ops.Jitter, Ops.MatMul, Ops.Softmax, Ops.TopK, Ops.Renorm, Ops.SecondDrop, Ops.LogSumExp };
        var jitter = k.Nodes[0].Op == Ops.Jitter ? k.Nodes[0] : null;
        var core = k.Nodes.Skip(jitter != null ? 1 : 0).ToList();
        if (core.Count < 2 || core[0].Op != Ops.MatMul || core[1].Op != Ops.Softmax || k.OpNames.Any(o => !known.Contains(o))
            || (core.Count > 2 && core[2].Op != Ops.TopK && core[2].Op != Ops.LogSumExp)
            || (jitter != null && core[0].Operands[0] != jitter.Results[0]))
        {
            throw Unfused(k);
        }

        var (matmul, softmax) = (core[0], core[1]);
        Node? Find(string op) => k.Nodes.FirstOrDefault(n => n.Op == op);
        var (topk, renorm, drop, lse) = (Find(Ops.TopK), Find(Ops.Renorm), Find(Ops.SecondDrop), Find(Ops.LogSumExp));
        var x = jitter?.Operands[0] ?? matmul.Operands[0];
        var ps = new List<KernelParam>
        {
            new(InputOrBuffer(plan, x), x, F, "x"),
            new(BindingKind.Weight, matmul.Operands[1], F, "wg"),
            new(BindingKind.Buffer, softmax.Results[0], F, "probs"),
        };
        if (topk != null)
        {
            ps.Add(new(BindingKind.Buffer, drop?.Results[0] ?? topk.Results[1], I, "experts"));
            ps.Add(new(BindingKind.Buffer, renorm?.Results[0] ?? topk.Results[0], F, "gates"));
        }

        if (lse != null)
        {
            ps.Add(new(BindingKind.Buffer, lse.Results[0], F, "lse"));
        }

        ps.Add(new(BindingKind.Args, "", Args, "args"));
        return new GateKernel(k, ps)
        {
            Jitter = jitter != null ? CSharpNames.Float(jitter.FloatAttr("eps")) : null,
            TopK = topk != null,
            Renorm = renorm != null,
            SecondDrop = drop != null,
            LogSumExp = lse != null,
        };
    }
}
