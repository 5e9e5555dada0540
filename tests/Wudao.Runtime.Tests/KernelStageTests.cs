using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Wudao.Runtime.Tests.Reference;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// Each generated kernel alone: its inputs come from the reference's previous stage, its
/// outputs are compared with the reference's next stage. A failure names the kernel at fault.
/// </summary>
[Collection(AcceleratorCollection.Name)]
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class KernelStageTests
{
    private readonly Session _session;

    public KernelStageTests(AcceleratorSession fixture)
    {
        _session = fixture.Session;
    }

    private Accelerator Acc => _session.Accelerator;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in Layers.All.Keys)
        {
            data.Add(name, 1);
            data.Add(name, 37);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gate_kernel_matches_softmax_topk_renorm(string layer, int tokens)
    {
        var s = Stage.Make(layer, tokens);
        using var x = Upload(s.X);
        using var wg = Upload(s.Weights["gate.weight"].Data);
        using var probs = Acc.Allocate1D<float>(tokens * s.Info.Experts);
        using var experts = Acc.Allocate1D<int>(tokens * s.Info.TopK);
        using var gates = Acc.Allocate1D<float>(tokens * s.Info.TopK);
        var kernel = Acc.LoadAutoGroupedStreamKernel(s.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, LayerArgs>>("gate"));

        kernel(tokens, x.View, wg.View, probs.View, experts.View, gates.View, s.Args);
        Acc.Synchronize();

        Numerics.Close(s.Routing.Probs, probs.GetAsArray1D(), what: "probs");
        Numerics.Equal(s.Routing.Experts, experts.GetAsArray1D(), "experts");
        Numerics.Close(s.Routing.Gates, gates.GetAsArray1D(), what: "gates");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Route_kernel_matches_capacity_counts_scan_and_aux_loss(string layer, int tokens)
    {
        foreach (var split in new[] { false, true })
        {
            var s = Stage.Make(layer, tokens);
            using var experts = Upload(s.Routing.Experts);
            using var probs = Upload(s.Routing.Probs);
            using var slots = Acc.Allocate1D<int>(tokens * s.Info.TopK);
            using var meta = Acc.Allocate1D<int>(s.Const("MetaLength"));
            using var gathered = Acc.Allocate1D<int>(s.Const("PartialsLength"));
            using var x = Upload(s.X);
            var kernel = Acc.LoadStreamKernel(s.Kernel<Action<ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, LayerArgs>>("route"));
            var group = new KernelConfig(1, Math.Min(256, Acc.MaxNumThreadsPerGroup));
            if (split)
            {
                // The expert-parallel way on one rank: partials, then slots from a copy of them.
                kernel(group, experts.View, probs.View, slots.View, meta.View, x.View, gathered.View, s.Args.ForRoute(RoutePhase.Partials, 0, 1));
                Acc.Synchronize();
                gathered.View.CopyFromCPU(meta.GetAsArray1D().Skip(s.Const("PartialsAt")).Take(s.Const("PartialsLength")).ToArray());
                kernel(group, experts.View, probs.View, slots.View, meta.View, x.View, gathered.View, s.Args.ForRoute(RoutePhase.Slots, 0, 1));
            }
            else
            {
                kernel(group, experts.View, probs.View, slots.View, meta.View, x.View, meta.View.SubView(s.Const("PartialsAt"), s.Const("PartialsLength")), s.Args);
            }

            Acc.Synchronize();
            var m = meta.GetAsArray1D();
            Numerics.Equal(s.Routing.Slots, slots.GetAsArray1D(), "slots");
            Numerics.Equal(s.Routing.Kept, m.Skip(s.Const("Meta_kept")).Take(s.Info.Experts).ToArray(), "kept");
            Numerics.Equal(s.Routing.Offsets, m.Skip(s.Const("Meta_offsets")).Take(s.Info.Experts + 1).ToArray(), "offsets");
            Assert.Equal(s.Routing.Dropped, m[s.Const("Meta_dropped")]);
            Assert.Equal(s.Routing.AuxLoss, BitConverter.Int32BitsToSingle(m[s.Const("Meta_aux")]), 1e-5f);
            Assert.Equal(0, m[s.Const("Meta_nonfinite")]);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dispatch_kernel_scatters_into_expert_contiguous_rows(string layer, int tokens)
    {
        var s = Stage.Make(layer, tokens);
        using var x = Upload(s.X);
        using var experts = Upload(s.Routing.Experts);
        using var slots = Upload(s.Routing.Slots);
        using var meta = Upload(s.Meta());
        using var rows = Acc.Allocate1D<float>(Math.Max(1, tokens * s.Info.TopK * s.Info.Dim));
        var kernel = Acc.LoadAutoGroupedStreamKernel(s.Kernel<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>>>("dispatch"));

        kernel(tokens * s.Info.TopK * s.Info.Dim, x.View, experts.View, slots.View, meta.View, rows.View);
        Acc.Synchronize();

        var expected = MoeReference.Dispatch(s.Info, s.Routing, s.X, tokens);
        Assert.Equal(expected, rows.GetAsArray1D().Take(expected.Length).ToArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Expert_ffn_kernel_matches_gemm_bias_activation_gemm_bias(string layer, int tokens)
    {
        var s = Stage.Make(layer, tokens);
        var rowsHost = MoeReference.Dispatch(s.Info, s.Routing, s.X, tokens);
        var capacity = Math.Max(1, tokens * s.Info.TopK * s.Info.Dim);
        using var rows = Upload(rowsHost.Concat(new float[capacity - rowsHost.Length]).ToArray());
        using var w1 = Upload(s.Weights["experts.w1"].Data);
        using var b1 = Upload(s.Weights["experts.b1"].Data);
        using var w2 = Upload(s.Weights["experts.w2"].Data);
        using var b2 = Upload(s.Weights["experts.b2"].Data);
        using var meta = Upload(s.Meta());
        using var y = Acc.Allocate1D<float>(capacity);
        var kernel = Acc.LoadStreamKernel(s.Kernel<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>>("expert_ffn"));
        var tm = s.Const("TM");

        kernel(new KernelConfig((((tokens * s.Info.TopK) + tm - 1) / tm) + s.Info.Experts, Math.Min(256, Acc.MaxNumThreadsPerGroup)), rows.View, w1.View, b1.View, w2.View, b2.View, meta.View, y.View);
        Acc.Synchronize();

        var expected = MoeReference.ExpertFfn(s.Info, s.Weights, s.Routing, rowsHost);
        Numerics.Close(expected, y.GetAsArray1D().Take(expected.Length).ToArray(), what: "expert rows");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Combine_kernel_matches_weighted_gather(string layer, int tokens)
    {
        var s = Stage.Make(layer, tokens);
        var yHost = Numerics.RandomInputs(Math.Max(1, s.Routing.Offsets[^1] * s.Info.Dim), seed: 5);
        using var y = Upload(yHost);
        using var experts = Upload(s.Routing.Experts);
        using var gates = Upload(s.Routing.Gates);
        using var slots = Upload(s.Routing.Slots);
        using var meta = Upload(s.Meta());
        using var output = Acc.Allocate1D<float>(tokens * s.Info.Dim);
        var kernel = Acc.LoadAutoGroupedStreamKernel(s.Kernel<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>>>("combine"));

        kernel(tokens * s.Info.Dim, y.View, experts.View, gates.View, slots.View, meta.View, output.View);
        Acc.Synchronize();

        Numerics.Close(MoeReference.Combine(s.Info, s.Routing, yHost, tokens), output.GetAsArray1D(), what: "output");
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(float[] data) => Acc.Allocate1D(data.Length == 0 ? new float[1] : data);

    private MemoryBuffer1D<int, Stride1D.Dense> Upload(int[] data) => Acc.Allocate1D(data.Length == 0 ? new int[1] : data);

    /// <summary>One layer's inputs and reference routing for a batch.</summary>
    private sealed record Stage(Type Type, MoeLayerInfo Info, MoeWeights Weights, float[] X, RoutingReference Routing, LayerArgs Args)
    {
        public static Stage Make(string layer, int tokens)
        {
            var (type, info, _) = Layers.All[layer];
            var weights = MoeWeights.Random(info, 21);
            var x = Numerics.RandomInputs(tokens * info.Dim, seed: 17);
            var seed = new CounterSeed(21);
            return new Stage(type, info, weights, x, MoeReference.Route(info, weights, x, tokens, seed, 0), new LayerArgs(tokens, MoeReference.Capacity(info, tokens), seed, 0));
        }

        public int Const(string name) => Layers.Const(Type, name);

        public T Kernel<T>(string role)
            where T : Delegate => Layers.Kernels(Type).Single(k => k.Entry.Role == role).Method.CreateDelegate<T>();

        /// <summary>The statistics block as the route kernel lays it out, filled from the reference.</summary>
        public int[] Meta()
        {
            var meta = new int[Const("MetaLength")];
            Routing.Kept.CopyTo(meta, Const("Meta_kept"));
            Routing.Offsets.CopyTo(meta, Const("Meta_offsets"));
            meta[Const("Meta_dropped")] = Routing.Dropped;
            return meta;
        }
    }
}
