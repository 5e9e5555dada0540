using System;
using System.Collections.Generic;

namespace Wudao;

/// <summary>One AdamW update's scalars, computed on the host once per step (torch.optim.AdamW's order of operations).</summary>
/// <param name="Beta1">β1.</param>
/// <param name="Beta2">β2.</param>
/// <param name="Eps">ε.</param>
/// <param name="Decay">1 − lr·weight decay: the decoupled decay multiplies the weight first.</param>
/// <param name="StepSize">lr / (1 − β1^t).</param>
/// <param name="BiasCorrection2Sqrt">√(1 − β2^t).</param>
/// <param name="GradScale">The clipping factor applied to the gradient (1 when not clipped).</param>
public readonly record struct AdamWStep(float Decay, float Beta1, float Beta2, float Eps, float StepSize, float BiasCorrection2Sqrt, float GradScale);

/// <summary>One SGD update's scalars; on the first step the momentum buffer starts as the gradient (as torch.optim.SGD).</summary>
public readonly record struct SgdStep(float LearningRate, float WeightDecay, float Momentum, bool FirstStep, float GradScale);

/// <summary>
/// The optimizer's kernels, generated with every trainable layer and model (the update rules live
/// in the compiler, like every other kernel); <see cref="ParameterOptimizer"/> only orders the calls.
/// </summary>
public interface IOptimizerKernels
{
    /// <summary>Σ g², summed in a fixed order (deterministic).</summary>
    double SumOfSquares(ReadOnlySpan<float> g);

    /// <summary>One AdamW update of <paramref name="w"/> with its moments.</summary>
    void AdamW(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWStep step);

    /// <summary>Plain SGD when <paramref name="buffer"/> is empty (no momentum).</summary>
    void Sgd(Span<float> w, ReadOnlySpan<float> g, Span<float> buffer, in SgdStep step);
}

/// <summary>What an optimizer updates: weights, their gradients, the kernels that update them, and a hook for the copies a target keeps.</summary>
public interface ITrainable
{
    /// <summary>The fp32 master weights, by name.</summary>
    MoeWeights Weights { get; }

    /// <summary>The accumulated gradients, by weight name.</summary>
    MoeWeights Gradients { get; }

    /// <summary>The update kernels compiled with the layer or model.</summary>
    IOptimizerKernels OptimizerKernels { get; }

    /// <summary>Weights no gradient reaches (they only choose, like DeepSeek's balance bias): an optimizer leaves them alone, as torch skips a parameter whose grad is None.</summary>
    IReadOnlyCollection<string> NoGradient { get; }

    /// <summary>Refreshes what the layer derived from <see cref="Weights"/> (device copies, packed GEMM panels) after they changed.</summary>
    void WeightsChanged();
}
