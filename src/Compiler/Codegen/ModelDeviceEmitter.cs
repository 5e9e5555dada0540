using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The device schedule of a model's plan (sessions on an ILGPU accelerator: CUDA, OpenCL, or the
/// CPU accelerator that checks it): weights, activations and KV caches stay in device memory, one
/// launch per planned kernel, and only the logits come back.
/// </summary>
internal static class ModelDeviceEmitter
{
    public static void Fields(SourceWriter w, KernelPlan plan)
    {
        w.Line("private readonly global::Wudao.Attention.IlgpuAttention? _attention;");
        NormEmitter.DeviceFields(w, plan);
        DeviceLinearEmitter.Fields(w, plan);
        DenseFfnEmitter.DeviceFields(w, plan);
        IlgpuSampleEmitter.Fields(w);
        foreach (var b in plan.Weights)
        {
            w.Line($"private readonly global::Wudao.DeviceTensor? _d_{b.Value};");
        }

        foreach (var a in Attention(plan))
        {
            w.Line($"private readonly global::Wudao.Attention.IlgpuKvCache? _dcache_{a.Results[0]};");
        }
    }

    /// <summary>Constructor part: on a non-native session, upload the weights once and make the device caches.</summary>
    public static void Init(SourceWriter w, KernelPlan plan, string model)
    {
        w.Open("if (session.Workers == null)");
        w.Line($"_attention = global::Wudao.Attention.IlgpuAttention.Create<{ModelAttentionKernels.Of(ModelAttentionKernels.Kernels(plan).First()).Ilgpu}>(session.Accelerator);");
        NormEmitter.DeviceInit(w, plan, model);
        DeviceLinearEmitter.Init(w, plan, model);
        DenseFfnEmitter.DeviceInit(w, plan, model);
        IlgpuSampleEmitter.Init(w, plan, model);
        foreach (var b in plan.Weights)
        {
            w.Line($"_d_{b.Value} = session.Upload(weights[\"{b.Name}\"]);");
        }

        foreach (var a in Attention(plan))
        {
            w.Line($"_dcache_{a.Results[0]} = new global::Wudao.Attention.IlgpuKvCache(session.Accelerator, 1, {a.IntAttr("max_seq")}, {a.IntAttr("kv_heads")}, {a.IntAttr("head_dim")});");
        }

        w.Close();
    }

    public static void Dispose(SourceWriter w, KernelPlan plan)
    {
        foreach (var b in plan.Weights)
        {
            w.Line($"_d_{b.Value}?.Dispose();");
        }

        foreach (var a in Attention(plan))
        {
            w.Line($"_dcache_{a.Results[0]}?.Dispose();");
        }

        w.Line("_attention?.Dispose();");
    }

    /// <summary>RunDevice: the plan's kernels in order on device buffers of one pooled scope.</summary>
    public static void Run(SourceWriter w, KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        // Rows a MoE block reads are device tensors (the MoE layer's input type); the rest are scope views.
        var moeInputs = new HashSet<string>(plan.Kernels.Where(k => k.Space == IterationSpace.SubLayer).Select(k => k.Nodes[0].Operands[0]));
        w.Line("/// <summary>");
        w.Line("/// The plan on the session's accelerator; as <see cref=\"Run\"/>, logits for every new token or only the last. With");
        w.Line("/// <paramref name=\"greedy\"/>, the sample op's argmax runs on the device instead and only the token comes back, into greedy[0].");
        w.Line("/// </summary>");
        w.Open("private float[] RunDevice(global::System.ReadOnlySpan<int> ids, bool lastOnly, int[]? greedy)");
        w.Line("int t = ids.Length;");
        w.Line("int[] offsets = { 0, t };");
        w.Line("using var scope = _session.Pool.BeginScope();");
        w.Line("var owned = new global::System.Collections.Generic.List<global::System.IDisposable>();");
        if (ModelEmitter.MoeNodes(plan).Any(m => m.Attr("by_ids") == "1"))
        {
            w.Line("int[] idArray = ids.ToArray();");
        }

        w.Open("try");
        w.Line($"var d_ids = global::Wudao.Models.ModelRuntime.DeviceIds(_session, scope, ids, {types[plan.Graph.Nodes.First(x => x.Op == Ops.Embed).Operands[1]]!.Shape[0].Value});");
        var declared = new HashSet<string>();
        void Buffer(string value)
        {
            if (!declared.Add(value) || value == "logits")
            {
                return;
            }

            var width = types[value]!.Shape[1].Value;
            if (moeInputs.Contains(value))
            {
                w.Line($"var t_{value} = _session.Pool.RentTensor(t, {width});");
                w.Line($"owned.Add(t_{value});");
                w.Line($"var v_{value} = t_{value}.View.BaseView;");
            }
            else if (!plan.Kernels.Any(k => k.Space == IterationSpace.SubLayer && k.Nodes[0].Results[0] == value))
            {
                w.Line($"var v_{value} = scope.F32((long)t * {width});");
            }
        }

        var moeIndex = 0;
        foreach (var k in SampleEmitter.StepKernels(plan))
        {
            var n = k.Nodes[0];
            w.Line($"// k{k.Index} {k.Name} [{string.Join(", ", k.OpNames)}]");
            foreach (var r in k.Buffered(plan))
            {
                Buffer(r);
            }

            switch (k.Space)
            {
                case IterationSpace.TokenRows:
                    NormEmitter.Device(w, k, plan);
                    break;
                case IterationSpace.DenseRows when n.Op == Ops.DenseFfn:
                    DenseFfnEmitter.Device(w, n, plan);
                    break;
                case IterationSpace.DenseRows when n.Results[0] == "logits":
                    var width = types[n.Operands[0]]!.Shape[1].Value;
                    var vocab = types["logits"]!.Shape[1].Value;
                    w.Line("int rows = lastOnly ? 1 : t;");
                    w.Line($"var v_logits = scope.F32((long)rows * {vocab});");
                    DeviceLinearEmitter.Linear(w, $"v_{n.Operands[0]}.SubView((long)(t - rows) * {width}, (long)rows * {width})", "rows", width, n.Operands[1], vocab, "v_logits");
                    w.Line("float[] logits = global::System.Array.Empty<float>();");
                    w.Open("if (greedy != null)");
                    IlgpuSampleEmitter.Greedy(w, "v_logits", "rows", vocab);
                    w.Close();
                    w.Open("else");
                    w.Line($"logits = new float[(long)rows * {vocab}];");
                    w.Line("_session.Accelerator.Synchronize();");
                    w.Line("global::ILGPU.Runtime.ArrayViewExtensions.CopyToCPU(v_logits, _session.Accelerator.DefaultStream, global::System.MemoryExtensions.AsSpan(logits));");
                    w.Close();
                    break;
                case IterationSpace.DenseRows:
                    var inner = types[n.Operands[0]]!.Shape[1].Value;
                    var outer = types[n.Results[0]]!.Shape[1].Value;
                    DeviceLinearEmitter.Linear(w, $"v_{n.Operands[0]}", "t", inner, n.Operands[1], outer, $"v_{n.Results[0]}");
                    break;
                case IterationSpace.Sequences:
                    var (a, qk) = ModelAttentionKernels.Nodes(k);
                    int heads = a.IntAttr("heads"), q = heads * a.IntAttr("head_dim"), kv = a.IntAttr("kv_heads") * a.IntAttr("head_dim");
                    var r = a.Results[0];
                    w.Line($"var q_{r} = scope.F32((long)t * {q});");
                    w.Line($"var k_{r} = scope.F32((long)t * {kv});");
                    w.Line($"var vv_{r} = scope.F32((long)t * {kv});");
                    w.Line(DeviceLinearEmitter.Split($"v_{(qk ?? a).Operands[0]}", q, kv, $"q_{r}", $"k_{r}", $"vv_{r}"));
                    var norms = qk != null ? $", _d_{qk.Operands[1]}!.View.BaseView, _d_{qk.Operands[2]}!.View.BaseView" : "";
                    w.Line($"_attention!.Forward(_shape, _dcache_{r}!, q_{r}, k_{r}, vv_{r}, v_{r}, scope.F32((long)t * {heads}), offsets{norms});");
                    break;
                case IterationSpace.SubLayer:
                    var call = n.Attr("by_ids") == "1" ? $"Forward(t_{n.Operands[0]}, idArray)" : $"Forward(t_{n.Operands[0]})";
                    var f = n.Results[0];
                    w.Line($"var r_{f} = _moe_{f}.{call};");
                    w.Line($"owned.Add(r_{f});");
                    w.Line($"ExpertLoad[{moeIndex}].Add(r_{f}.Stats);");
                    w.Line($"_lastStats[{moeIndex++}] = r_{f}.Stats;");
                    w.Line($"var v_{f} = r_{f}.Output.View.BaseView;");
                    break;
                default:
                    throw new KernelAssemblyException($"k{k.Index}: no device model template for [{string.Join(", ", k.OpNames)}]");
            }
        }

        w.Line("return logits;");
        w.Close();
        w.Open("finally");
        w.Line("foreach (var o in owned)");
        w.Line("{");
        w.Line("    o.Dispose();");
        w.Line("}");
        w.Close();
        w.Close();
        w.Line();
    }

    private static List<Node> Attention(KernelPlan plan) => ModelAttentionKernels.AttentionNodes(plan);

}
