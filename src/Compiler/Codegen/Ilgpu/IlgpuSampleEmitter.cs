using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The sample op on the device schedule: greedy decoding takes the argmax where the logits are,
/// in one group, and reads back one int instead of a row of Vocab floats. Sampling at a
/// temperature reads the row back and draws on the host with the same emitted sampler.
/// </summary>
internal static class IlgpuSampleEmitter
{
    private const string View = "global::ILGPU.ArrayView<float>";
    private const string Ints = "global::ILGPU.ArrayView<int>";

    private static string Class(KernelPlan plan) => $"DeviceSampler{SampleEmitter.Of(plan).Vocab}";

    public static void Fields(SourceWriter w)
    {
        w.Line(NestedDeviceKernel.GroupedField("SampleArgMax", new[] { View, Ints }));
        w.Line("private readonly int _sampleGroup;");
    }

    /// <summary>Constructor part, on a device session: the argmax kernel and its group (the largest the accelerator allows, up to the shared arrays' size).</summary>
    public static void Init(SourceWriter w, KernelPlan plan, string model)
    {
        w.Line(NestedDeviceKernel.GroupedLoad("SampleArgMax", $"{Class(plan)}.ArgMax", new[] { View, Ints }, model));
        w.Line($"_sampleGroup = global::System.Math.Min({IlgpuSchedule.MaxGroup}, session.Accelerator.MaxNumThreadsPerGroup);");
    }

    /// <summary>Launches the argmax over the last row of <paramref name="logits"/> and reads the token back into <c>greedy[0]</c>.</summary>
    public static void Greedy(SourceWriter w, string logits, string rows, int vocab)
    {
        w.Line("var d_next = scope.I32(1);");
        w.Line($"_kSampleArgMax!(new global::ILGPU.KernelConfig(1, _sampleGroup), {logits}.SubView((long)({rows} - 1) * {vocab}, {vocab}), d_next);");
        w.Line("_session.Accelerator.Synchronize();");
        w.Line("global::ILGPU.Runtime.ArrayViewExtensions.CopyToCPU(d_next, _session.Accelerator.DefaultStream, global::System.MemoryExtensions.AsSpan(greedy, 0, 1));");
    }

    /// <summary>
    /// The kernel: each thread keeps the largest logit of its strided ids (ties to the lower id; a
    /// NaN never compares larger, so it is never kept), thread 0 merges the group's in the same way.
    /// As the host's scan from id 0: a NaN at id 0, or a row of NaNs, gives 0.
    /// </summary>
    public static void Kernel(SourceWriter w, KernelPlan plan)
    {
        var (kernel, vocab) = SampleEmitter.Of(plan);
        w.Line($"/// <summary>%{kernel.Nodes[0].Results[0]} = sample on the device, greedy: the argmax of a row of {vocab} logits in one group.</summary>");
        w.Lines($$"""
            private static class {{Class(plan)}}
            {
                public static void ArgMax({{View}} logits, {{Ints}} next)
                {
                    var values = global::ILGPU.SharedMemory.Allocate<float>({{IlgpuSchedule.MaxGroup}});
                    var ids = global::ILGPU.SharedMemory.Allocate<int>({{IlgpuSchedule.MaxGroup}});
                    int tid = global::ILGPU.Group.IdxX;
                    int g = global::ILGPU.Group.DimX;
                    float best = float.NegativeInfinity;
                    int bestId = int.MaxValue;
                    for (int i = tid; i < {{vocab}}; i += g)
                    {
                        float v = logits[i];
                        if (v > best || (v == best && i < bestId))
                        {
                            best = v;
                            bestId = i;
                        }
                    }

                    values[tid] = best;
                    ids[tid] = bestId;
                    global::ILGPU.Group.Barrier();
                    if (tid == 0)
                    {
                        for (int j = 1; j < g; j++)
                        {
                            if (values[j] > best || (values[j] == best && ids[j] < bestId))
                            {
                                best = values[j];
                                bestId = ids[j];
                            }
                        }

                        next[0] = logits[0] != logits[0] || bestId == int.MaxValue ? 0 : bestId;
                    }
                }
            }
            """);
        w.Line();
    }
}
