using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The native schedule of a model's plan: one call per planned kernel over a workspace the model
/// keeps (a decode step allocates only its logits), host KV caches, the MoE blocks as their layers.
/// </summary>
internal static class ModelNativeEmitter
{
    /// <summary>One call per planned kernel, in plan order, over the step's new tokens.</summary>
    public static void Run(SourceWriter w, KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        w.Line("/// <summary>Runs the plan over <paramref name=\"ids\"/> appended to the cache; logits for every new token, or only the last.</summary>");
        w.Open("private float[] Run(global::System.ReadOnlySpan<int> ids, bool lastOnly)");
        w.Line("int t = ids.Length;");
        w.Line("int[] offsets = { 0, t };");
        w.Line("global::System.ReadOnlySpan<float> none = default;");
        if (ModelEmitter.MoeNodes(plan).Any(m => m.Attr("by_ids") == "1"))
        {
            w.Line("int[] idArray = ids.ToArray();");
        }

        // Every activation of the step is a slice of one workspace the model keeps: a decode step allocates nothing.
        w.Line($"var ws = global::Wudao.Models.Workspace.For(ref _workspace, (long)t * {WorkspacePerToken(plan)});");
        var declared = new HashSet<string>();
        void Buffer(string value)
        {
            if (declared.Add(value) && value != "logits")
            {
                w.Line($"var v_{value} = ws.Take((long)t * {types[value]!.Shape[1].Value});");
            }
        }

        var moeIndex = 0;
        foreach (var k in SampleEmitter.StepKernels(plan))
        {
            var n = k.Nodes[0];
            w.Line($"// k{k.Index} {k.Name} [{string.Join(", ", k.OpNames)}]");
            w.Line(k.Index == 0 ? "long start = global::System.Diagnostics.Stopwatch.GetTimestamp();" : "start = global::System.Diagnostics.Stopwatch.GetTimestamp();");
            foreach (var r in k.Buffered(plan))
            {
                Buffer(r);
            }

            switch (k.Space)
            {
                case IterationSpace.TokenRows:
                    NormEmitter.Native(w, k, plan);
                    break;
                case IterationSpace.DenseRows when n.Op == Ops.DenseFfn:
                    DenseFfnEmitter.Native(w, n, plan);
                    break;
                case IterationSpace.DenseRows when n.Results[0] == "logits":
                    // Generation needs only the last token's logits: the LM head runs on that row alone.
                    var width = types[n.Operands[0]]!.Shape[1].Value;
                    var vocab = types["logits"]!.Shape[1].Value;
                    w.Line("int rows = lastOnly ? 1 : t;");
                    w.Line("var v_logits = new float[(long)rows * " + vocab + "];");
                    w.Line(ModelGemmEmitter.Call($"v_{n.Operands[0]}.Slice((t - rows) * {width})", "rows", width, n.Operands[1], vocab, null, "v_logits", cIsArray: true));
                    break;
                case IterationSpace.DenseRows:
                    var inner = types[n.Operands[0]]!.Shape[1].Value;
                    var outer = types[n.Results[0]]!.Shape[1].Value;
                    w.Line(ModelGemmEmitter.Call($"v_{n.Operands[0]}", "t", inner, n.Operands[1], outer, null, $"v_{n.Results[0]}"));
                    break;
                case IterationSpace.Sequences:
                    EmitAttention(w, k);
                    break;
                case IterationSpace.SubLayer:
                    // Hash routing inside a model routes by the input token ids.
                    var layer = n.Attr("by_ids") == "1" ? $"x => _moe_{n.Results[0]}.Forward(x, idArray)" : $"_moe_{n.Results[0]}.Forward";
                    w.Line($"_lastStats[{moeIndex}] = global::Wudao.Models.ModelRuntime.RunMoe(_session, {layer}, v_{n.Operands[0]}, t, {types[n.Operands[0]]!.Shape[1].Value}, v_{n.Results[0]}, ExpertLoad[{moeIndex}]);");
                    moeIndex++;
                    break;
                default:
                    throw new KernelAssemblyException($"k{k.Index}: no native model template for [{string.Join(", ", k.OpNames)}]");
            }

            w.Line($"KernelTicks[{k.Index}] += global::System.Diagnostics.Stopwatch.GetTimestamp() - start;");
        }

        w.Line("return v_logits;");
        w.Close();
        w.Line();
    }

    /// <summary>The projection's rows split into Q, K and V, then one attention call with the layer's cache (and qk_norm's γ, when it is the kernel's prologue).</summary>
    private static void EmitAttention(SourceWriter w, PlannedKernel k)
    {
        var (n, qk) = ModelAttentionKernels.Nodes(k);
        int heads = n.IntAttr("heads"), hd = n.IntAttr("head_dim");
        int q = heads * hd, kv = n.IntAttr("kv_heads") * hd;
        var r = n.Results[0];
        w.Line($"var q_{r} = ws.Take((long)t * {q});");
        w.Line($"var k_{r} = ws.Take((long)t * {kv});");
        w.Line($"var vv_{r} = ws.Take((long)t * {kv});");
        w.Line($"global::Wudao.Models.ModelRuntime.SplitQkv(v_{(qk ?? n).Operands[0]}, t, {q}, {kv}, q_{r}, k_{r}, vv_{r});");
        var norms = qk != null ? $", _w_{qk.Operands[1]}, _w_{qk.Operands[2]}" : "";
        w.Line($"global::Wudao.Attention.NativeAttention.Forward<{ModelAttentionKernels.Of(k).Native}>(_shape, _cache_{r}!, q_{r}, k_{r}, vv_{r}, v_{r}, ws.Take((long)t * {heads}), offsets, _session.Workers{norms});");
    }

    private static long WorkspacePerToken(KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        var values = SampleEmitter.StepKernels(plan).SelectMany(k => k.Buffered(plan)).Where(v => v != "logits").Distinct();
        long floats = values.Sum(v => (long)types[v]!.Shape[1].Value);
        // Attention's Q, K and V rows and its LSE per query head.
        var attention = plan.Graph.Nodes.Where(n => n.Op == Ops.Attention)
            .Sum(n => (long)(((n.IntAttr("heads") + (2 * n.IntAttr("kv_heads"))) * n.IntAttr("head_dim")) + n.IntAttr("heads")));
        var dense = plan.Graph.Nodes.Where(n => n.Op == Ops.DenseFfn).Sum(n => DenseFfnEmitter.ScratchPerToken(n, plan));
        return floats + attention + dense;
    }
}
