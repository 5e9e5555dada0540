using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// Emits a model's <c>Info</c>: every size and flag read back from the plan's graph (the embedding's
/// shape, the norms' op and eps, the attention op's attributes, which blocks hold a <c>moe</c> node),
/// so what a user reads is what the kernels were compiled with, not a copy of the declaration.
/// </summary>
internal static class ModelInfoEmitter
{
    public static void Emit(SourceWriter w, ModelDeclaration decl, KernelPlan plan, string graphText, string planText, string trainPlanText)
    {
        var graph = plan.Graph;
        var types = graph.ValueTypes();
        var embed = types[graph.Nodes.First(n => n.Op == Ops.Embed).Operands[1]]!.Shape;
        var attention = graph.Nodes.Where(n => n.Op == Ops.Attention).ToList();
        var at = attention[0];
        var norm = graph.Nodes.First(n => n.Op is Ops.RmsNorm or Ops.LayerNorm or Ops.AddRmsNorm or Ops.AddLayerNorm);
        var normKind = norm.Op is Ops.RmsNorm or Ops.AddRmsNorm ? "RmsNorm" : "LayerNorm";

        // A dense block's hidden width is its w2's row count; 0 when every block runs the MoE layer.
        var dense = graph.Nodes.FirstOrDefault(n => n.Op == Ops.DenseFfn);
        var denseHidden = dense == null ? 0 : types[dense.Operands[3]]!.Shape[0].Value;

        // A block is an MoE block when its feed-forward is a moe node; the nodes carry their weight prefix.
        var moeBlocks = graph.Nodes.Where(n => n.Op == Ops.Moe).Select(n => $"\"{n.Attr("weights")}\"");
        var weights = plan.Weights.Select(b => Weight(b.Name, b.Type.Shape.Select(d => d.Value), b.FanIn));
        string Bool(bool b) => b ? "true" : "false";

        w.Line("/// <summary>What the compiler knew about this model: sizes, weights, graph and plan.</summary>");
        w.Line("public static global::Wudao.Models.ModelInfo Info { get; } = new global::Wudao.Models.ModelInfo(");
        w.Line($"    \"{graph.Name}\", {embed[0].Value}, {embed[1].Value}, {attention.Count}, {at.IntAttr("max_seq")}, global::Wudao.Norm.{normKind}, {CSharpNames.Float(norm.FloatAttr("eps"))},");
        w.Line($"    {at.IntAttr("heads")}, {at.IntAttr("kv_heads")}, {Bool(at.Attr("causal") == "1")}, global::Wudao.Position.{(at.Attr("rope") == "1" ? "Rope" : "None")}, {CSharpNames.Float(at.FloatAttr("rope_base"))}, {denseHidden},");
        w.Line($"    {decl.MoeClassName}.Info,");
        w.Line($"    new global::Wudao.WeightSpec[] {{ {string.Join(", ", weights)} }},");
        w.Line($"    new string[] {{ {string.Join(", ", moeBlocks)} }},");
        w.Line($"    {CSharpNames.Verbatim(graphText)},");
        w.Line($"    {CSharpNames.Verbatim(planText)},");
        w.Line($"    qkNorm: {Bool(graph.Nodes.Any(n => n.Op == Ops.QkNorm))},");
        w.Line($"    trainPlanText: {CSharpNames.Verbatim(trainPlanText)});");
        w.Line();
    }

    private static string Weight(string name, IEnumerable<int> shape, int fanIn) =>
        $"new global::Wudao.WeightSpec(\"{name}\", new int[] {{ {string.Join(", ", shape)} }}, {fanIn.ToString(CultureInfo.InvariantCulture)})";
}
