using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ordered pass over the batch: token-choice capacity (with its scan and any of the aux,
/// z and noisy losses) or expert choice. Statistics land in the meta block at the named offsets.
/// </summary>
public sealed class RouteKernel : KernelReading
{
    private RouteKernel(PlannedKernel kernel, IReadOnlyList<KernelParam> parameters, string kept, string offsets, string dropped)
        : base(kernel, $"K{kernel.Index}Route", parameters)
    {
        Kept = kept;
        Offsets = offsets;
        Dropped = dropped;
    }

    /// <summary>Meta offsets (constant names) of the kept rows per expert, their scan (E + 1) and the dropped count.</summary>
    public string Kept { get; }

    public string Offsets { get; }

    public string Dropped { get; }

    /// <summary>Experts choose their tokens (Zhou 2022) instead of capacity slotting token choices.</summary>
    public bool ExpertChoice { get; private set; }

    /// <summary>Experts below this bound are capacity-limited; "E" when every expert is (shared ones take every token).</summary>
    public string Routed { get; private set; } = "E";

    /// <summary>Meta offset of the count of tokens with a NaN or infinite input value; null without it.</summary>
    public string? NonFinite { get; private set; }

    /// <summary>The aux loss's meta offset; null without it.</summary>
    public string? Aux { get; private set; }

    /// <summary>The z-loss's meta offset and weight literal; null without it.</summary>
    public (string Meta, string Weight)? ZLoss { get; private set; }

    /// <summary>Noisy top-k's importance and load losses: meta offsets and weight literals; null without them.</summary>
    public (string Importance, string Load, string ImportanceWeight, string LoadWeight)? NoisyLoss { get; private set; }

    /// <summary>
    /// One rank's route partials (token choice): the fields of its block of ints, in order, with
    /// their lengths in terms of the <c>Kernels</c> constants. Counts are per (choice column,
    /// expert); loss sums are float bits, added over ranks in rank order.
    /// </summary>
    public IReadOnlyList<(string Name, string Length)> Partials
    {
        get
        {
            if (ExpertChoice)
            {
                return System.Array.Empty<(string, string)>();
            }

            var fields = new List<(string, string)> { (PartialTokens, "1"), (PartialNonFinite, "1"), (PartialCounts, "K * E") };
            fields.AddRange(Aux != null ? new[] { (PartialProbs, "E") } : System.Array.Empty<(string, string)>());
            fields.AddRange(ZLoss != null ? new[] { (PartialLse, "1") } : System.Array.Empty<(string, string)>());
            fields.AddRange(NoisyLoss != null ? new[] { (PartialImportance, "E"), (PartialLoad, "E") } : System.Array.Empty<(string, string)>());
            return fields;
        }
    }

    public const string PartialTokens = "Partial_tokens";
    public const string PartialNonFinite = "Partial_nonfinite";
    public const string PartialCounts = "Partial_counts";
    public const string PartialProbs = "Partial_probs";
    public const string PartialLse = "Partial_lse2";
    public const string PartialImportance = "Partial_importance";
    public const string PartialLoad = "Partial_load";

    /// <summary>The token-choice route's body: its partials phase, then its slot phase, each run unless <c>args.Phase</c> names the other.</summary>
    internal static string Phased(string partials, string slots) => $@"if (args.Phase != (int)global::Wudao.RoutePhase.Slots)
{{
{Indent(partials)}}}

if (args.Phase != (int)global::Wudao.RoutePhase.Partials)
{{
{Indent(slots)}}}
";

    private static string Indent(string body) => string.Concat(body.TrimEnd('\n').Split('\n').Select(l => l.Length == 0 ? "\n" : "    " + l + "\n"));

    public static RouteKernel From(PlannedKernel k, KernelPlan plan)
    {
        Node? Find(string op) => k.Nodes.FirstOrDefault(n => n.Op == op);
        var scan = Find(Ops.Scan);
        var bad = Find(Ops.NonFinite);
        if (Find(Ops.ExpertChoice) is { } choice)
        {
            if (k.Nodes.Count != 2 + (bad == null ? 0 : 1) || scan == null || scan.Operands[0] != choice.Results[3])
            {
                throw Unfused(k);
            }

            var eps = new List<KernelParam>
            {
                new(BindingKind.Buffer, choice.Operands[0], F, "probs"),
                new(BindingKind.Buffer, choice.Results[0], I, "experts"),
                new(BindingKind.Buffer, choice.Results[1], F, "gates"),
                new(BindingKind.Buffer, choice.Results[2], I, "slots"),
                new(BindingKind.Meta, "", I, "meta"),
            };
            if (bad != null)
            {
                eps.Add(new(InputOrBuffer(plan, bad.Operands[0]), bad.Operands[0], F, "x"));
            }

            eps.Add(new(BindingKind.Args, "", Args, "args"));
            return new RouteKernel(k, eps, Meta(choice.Results[3]), Meta(scan.Results[0]), Meta(choice.Results[4]))
            {
                ExpertChoice = true,
                NonFinite = bad != null ? Meta(bad.Results[0]) : null,
            };
        }

        var (noisy, capacity, aux, z) = (Find(Ops.NoisyLoss), Find(Ops.Capacity), Find(Ops.AuxLoss), Find(Ops.ZLoss));
        if (capacity == null || scan == null || scan.Operands[0] != capacity.Results[1] || k.Nodes.Count != 2 + (aux == null ? 0 : 1) + (z == null ? 0 : 1) + (noisy == null ? 0 : 1) + (bad == null ? 0 : 1))
        {
            throw Unfused(k);
        }

        if (aux != null && aux.Operands[1] != capacity.Operands[0])
        {
            throw new CompileException($"k{k.Index}: aux_loss must read the same expert choices as capacity");
        }


        var ps = new List<KernelParam> { new(BindingKind.Buffer, capacity.Operands[0], I, "experts") };
        if (aux != null)
        {
            ps.Add(new(BindingKind.Buffer, aux.Operands[0], F, "probs"));
        }

        ps.Add(new(BindingKind.Buffer, capacity.Results[0], I, "slots"));
        ps.Add(new(BindingKind.Meta, "", I, "meta"));
        if (z != null)
        {
            ps.Add(new(BindingKind.Buffer, z.Operands[0], F, "lse"));
        }

        if (noisy != null)
        {
            ps.Add(new(BindingKind.Buffer, noisy.Operands[0], F, "pload"));
            ps.Add(new(BindingKind.Buffer, noisy.Operands[1], F, "gates"));
        }

        if (bad != null)
        {
            ps.Add(new(InputOrBuffer(plan, bad.Operands[0]), bad.Operands[0], F, "x"));
        }

        ps.Add(new(BindingKind.Partials, "", I, "gathered"));
        ps.Add(new(BindingKind.Args, "", Args, "args"));
        return new RouteKernel(k, ps, Meta(capacity.Results[1]), Meta(scan.Results[0]), Meta(capacity.Results[2]))
        {
            Routed = capacity.Attr("routed") ?? "E",
            Aux = aux != null ? Meta(aux.Results[0]) : null,
            NonFinite = bad != null ? Meta(bad.Results[0]) : null,
            ZLoss = z != null ? (Meta(z.Results[0]), CSharpNames.Float(z.FloatAttr("weight"))) : null,
            NoisyLoss = noisy != null
                ? (Meta(noisy.Results[0]), Meta(noisy.Results[1]), CSharpNames.Float(noisy.FloatAttr("importance")), CSharpNames.Float(noisy.FloatAttr("load")))
                : null,
        };
    }
}
