using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>
/// What libtorch autograd computed for L = Σ(out ⊙ dOut) + dAux·aux: the forward values (Output,
/// AuxLoss, as <see cref="TorchMoe.Forward"/> gives them), dL/dx [tokens, Dim] and dL/dW per
/// weight name, each in the layout of <see cref="MoeWeights"/>.
/// </summary>
public sealed record TorchMoeGradients(float[] Output, float AuxLoss, float[] DX, IReadOnlyDictionary<string, float[]> Weights);

public static partial class TorchMoe
{
    /// <summary>
    /// The gradient oracle: x and every weight become float32 leaves that require grad, the shared
    /// <see cref="Graph"/> builds the layer on them and autograd differentiates
    /// L = Σ(out ⊙ dOut) + dAux·aux. Routing, capacity drops and GShard's random drop are integer
    /// decisions with no gradient; a leaf autograd never reached (an expert with no rows, every
    /// leaf at 0 tokens) gets zeros.
    /// </summary>
    public static TorchMoeGradients Gradients(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, CounterSeed seed, int step, float[] dOut, float dAux)
    {
        Initialise();
        if (dOut.Length != tokens * info.Dim)
        {
            throw new ArgumentException($"dOut holds {dOut.Length} elements, not {tokens}·{info.Dim}", nameof(dOut));
        }

        using var scope = torch.NewDisposeScope();
        var xt = torch.tensor(x, new[] { (long)tokens, info.Dim }).requires_grad_(true);
        var w = WeightNames.ToDictionary(n => n, n => Weight(weights, n).requires_grad_(true));
        var g = Graph(info, xt, w, seed, step);
        Backward(g, torch.tensor(dOut, new[] { (long)tokens, info.Dim }), dAux);
        return new TorchMoeGradients(
            Floats(g.Output),
            (float)g.Aux.item<double>(),
            Floats(GradientOf(xt)),
            WeightNames.ToDictionary(n => n, n => Floats(GradientOf(w[n]))));
    }

    /// <summary>
    /// L = Σ(out ⊙ dOut) + dAux·aux, in float64 (aux is float64; the output term is cast up, which
    /// autograd passes back down to the output's dtype).
    /// </summary>
    internal static Tensor Objective(MoeGraph g, Tensor dOut, double dAux) =>
        (g.Output * dOut).sum().to(ScalarType.Float64) + (g.Aux * dAux);

    /// <summary>
    /// Runs backward from <see cref="Objective"/>. When nothing differentiable reaches L (no
    /// tokens, and no output), there is nothing to run and every gradient stays zero.
    /// </summary>
    internal static void Backward(MoeGraph g, Tensor dOut, double dAux)
    {
        var loss = Objective(g, dOut, dAux);
        if (loss.requires_grad)
        {
            loss.backward();
        }
    }

    /// <summary>A leaf's gradient, or zeros of its shape and dtype where autograd left none.</summary>
    internal static Tensor GradientOf(Tensor leaf) => leaf.grad is { } grad ? grad : torch.zeros_like(leaf);
}

/// <summary>
/// What libtorch autograd computed for noisy top-k's L = Σ(out ⊙ dOut) + Σ_name dLoss[name]·loss[name]:
/// the forward values (as <see cref="TorchRouters.NoisyTopK"/> gives them), dL/dx and dL/dW per weight name.
/// </summary>
public sealed record TorchRouterGradients(float[] Output, IReadOnlyDictionary<string, float> Losses, float[] DX, IReadOnlyDictionary<string, float[]> Weights);

public static partial class TorchRouters
{
    /// <summary>
    /// The gradient oracle for noisy top-k: x and every weight (gate.weight, gate.noise and the
    /// experts') become float32 leaves and autograd differentiates L, where each loss (importance,
    /// load: weight·cv²) has its own upstream seed in <paramref name="dLosses"/> (a name left out
    /// counts 0). ε is a constant; the choice of experts and capacity drops carry no gradient.
    /// </summary>
    public static TorchRouterGradients NoisyTopKGradients(MoeLayerInfo info, MoeWeights weights, float[] x, int tokens, float[] epsilon, float[] dOut, IReadOnlyDictionary<string, float> dLosses)
    {
        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        var xt = torch.tensor(x, new[] { (long)tokens, info.Dim }).requires_grad_(true);
        var w = Weights(weights);
        foreach (var leaf in w.Values)
        {
            leaf.requires_grad_(true);
        }

        var g = NoisyGraph(info, xt, w, torch.tensor(epsilon, new[] { (long)tokens, info.Experts }));
        var loss = Objective(g, torch.tensor(dOut, new[] { (long)tokens, info.Dim }), dLosses);
        if (loss.requires_grad)
        {
            loss.backward();
        }

        return new TorchRouterGradients(
            TorchMoe.Floats(g.Output),
            g.Losses.ToDictionary(l => l.Key, l => l.Value.Weight * (float)l.Value.Cv.item<double>()),
            TorchMoe.Floats(TorchMoe.GradientOf(xt)),
            w.ToDictionary(kv => kv.Key, kv => TorchMoe.Floats(TorchMoe.GradientOf(kv.Value))));
    }

    /// <summary>L = Σ(out ⊙ dOut) + Σ dLoss·weight·cv², in float64.</summary>
    internal static Tensor Objective(RouterGraph g, Tensor dOut, IReadOnlyDictionary<string, float> dLosses)
    {
        var loss = (g.Output * dOut).sum().to(ScalarType.Float64);
        foreach (var (name, (cv, weight)) in g.Losses)
        {
            loss = loss + (cv * ((double)weight * dLosses.GetValueOrDefault(name)));
        }

        return loss;
    }
}
