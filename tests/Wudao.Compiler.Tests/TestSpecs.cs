using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Spec;

namespace Wudao.Compiler.Tests;

/// <summary>Specs and small helpers shared by the compiler tests.</summary>
internal static class TestSpecs
{
    /// <summary>A valid spec; TopK defaults to what the router requires (Switch 1, GShard 2, TopK 2).</summary>
    public static MoeLayerSpec Make(
        RouterKind router = RouterKind.GShard,
        ActivationKind activation = ActivationKind.Gelu,
        int dim = 64,
        int experts = 8,
        int? topK = null,
        int hidden = 128,
        float capacityFactor = 1.25f,
        float auxLossWeight = 0.01f,
        string ns = "N") =>
        new(ns, "L", "public", dim, experts, topK ?? (router == RouterKind.Switch ? 1 : 2), hidden, activation, router, capacityFactor, auxLossWeight);

    /// <summary>Lines of a printed graph or plan, without the trailing empty line.</summary>
    public static string[] Lines(string text) => text.TrimEnd('\n').Split('\n');

    public static List<string[]> KernelOps(IEnumerable<Plan.PlannedKernel> kernels) =>
        kernels.Select(k => k.OpNames.ToArray()).ToList();

    public static string ActivationOp(ActivationKind activation) => Activations.ByValue((int)activation)!.Op;
}
