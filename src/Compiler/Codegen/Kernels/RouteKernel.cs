using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The ordered pass over the batch: token-choice capacity with its scan, then its other ops
/// (nonfinite and the losses, each assembled from its <see cref="RouteOpFragments"/> entry), or
/// expert choice. Statistics land in the meta block at the named offsets.
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

    /// <summary>The capacity of a batch of <c>tokens</c> as a C# expression, from the capacity (or expert_choice) op's factor and types.</summary>
    public string Capacity { get; private set; } = "0";

    /// <summary>The rule <see cref="Capacity"/> follows, in words.</summary>
    public string CapacityRule { get; private set; } = "";

    /// <summary>Meta offset of the count of tokens with a NaN or infinite input value; null without it.</summary>
    public string? NonFinite { get; private set; }

    /// <summary>The token-choice route's ops beside capacity and scan (nonfinite, the losses), in node order, each with its fragments.</summary>
    public IReadOnlyList<(Node Node, RouteOpFragments.RouteOp Op)> RouteOps { get; private set; } = new List<(Node, RouteOpFragments.RouteOp)>();

    /// <summary>
    /// One rank's route partials (token choice): the fields of its block of ints, in order, with
    /// their lengths in terms of the <c>Kernels</c> constants: its tokens, its counts per (choice
    /// column, expert), then each op's fields.
    /// </summary>
    public IReadOnlyList<(string Name, string Length)> Partials => ExpertChoice
        ? System.Array.Empty<(string, string)>()
        : new[] { (PartialTokens, "1"), (PartialCounts, "K * E") }.Concat(RouteOps.SelectMany(o => o.Op.Partials)).ToList();

    public const string PartialTokens = "Partial_tokens";
    public const string PartialCounts = "Partial_counts";

    /// <summary>The route's parameters in one order for every router, whichever op reads them.</summary>
    private static readonly string[] ParameterOrder = { "experts", "probs", "slots", "meta", "lse", "pload", "gates", "x", "gathered", "args" };

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
                Capacity = $"(int)global::System.Math.Min(tokens, global::System.Math.Ceiling((double){CSharpNames.Float(choice.FloatAttr("factor"))} * tokens / {Width(plan, choice.Operands[0])}))",
                CapacityRule = "expert choice: each expert takes C = min(T, ceil(c·T/E)) tokens",
            };
        }

        var capacity = Find(Ops.Capacity);
        if (capacity == null || scan == null || scan.Operands[0] != capacity.Results[1])
        {
            throw Unfused(k);
        }

        var ops = new List<(Node, RouteOpFragments.RouteOp)>();
        foreach (var n in k.Nodes.Where(n => n != capacity && n != scan))
        {
            ops.Add((n, RouteOpFragments.Find(n.Op) ?? throw new KernelAssemblyException($"k{k.Index}: no route fragment for %{n.Name} = {n.Op} in [{string.Join(", ", k.OpNames)}]")));
        }

        if (Find(Ops.AuxLoss) is { } aux && aux.Operands[1] != capacity.Operands[0])
        {
            throw new CompileException($"k{k.Index}: aux_loss must read the same expert choices as capacity");
        }

        var ps = new List<KernelParam>
        {
            new(BindingKind.Buffer, capacity.Operands[0], I, "experts"),
            new(BindingKind.Buffer, capacity.Results[0], I, "slots"),
            new(BindingKind.Meta, "", I, "meta"),
            new(BindingKind.Partials, "", I, "gathered"),
            new(BindingKind.Args, "", Args, "args"),
        };
        var types = plan.Graph.ValueTypes();
        foreach (var (n, op) in ops)
        {
            foreach (var (operand, name) in op.Reads)
            {
                var value = n.Operands[operand];
                ps.Add(new(InputOrBuffer(plan, value), value, types[value]!.DType == DType.I32 ? I : F, name));
            }
        }

        return new RouteKernel(k, ps.OrderBy(p => System.Array.IndexOf(ParameterOrder, p.Name)).ToList(), Meta(capacity.Results[1]), Meta(scan.Results[0]), Meta(capacity.Results[2]))
        {
            Routed = capacity.Attr("routed") ?? "E",
            Capacity = TokenChoiceCapacity(capacity, Width(plan, capacity.Operands[0])),
            CapacityRule = "ceil(factor·T·k/E) over the routed experts and choices; 0 = unlimited",
            NonFinite = bad != null ? Meta(bad.Results[0]) : null,
            RouteOps = ops,
        };
    }

    private static int Width(KernelPlan plan, string value) => plan.Graph.ValueTypes()[value]!.Shape[1].Value;

    /// <summary>ceil(factor·T·k/E) with k and E the routed choices and experts (shared experts take every token), or 0 when the factor is 0.</summary>
    private static string TokenChoiceCapacity(Node capacity, int choices)
    {
        var factor = capacity.FloatAttr("factor");
        var experts = capacity.IntAttr("experts");
        var routed = capacity.Attr("routed") != null ? capacity.IntAttr("routed") : experts;
        var k = choices - (experts - routed);
        return factor > 0f ? $"(int)global::System.Math.Ceiling((double){CSharpNames.Float(factor)} * tokens * {k} / {routed})" : "0";
    }
}
