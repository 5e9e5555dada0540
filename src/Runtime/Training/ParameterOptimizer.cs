using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao;

/// <summary>What one optimizer step did.</summary>
/// <param name="Step">The step just taken (1 is the first).</param>
/// <param name="LearningRate">The rate it used, after the schedule.</param>
/// <param name="GradientNorm">The global L2 norm of the trainable gradients before clipping.</param>
/// <param name="Clipped">Whether clipping scaled the gradients down.</param>
public readonly record struct OptimizerStepStats(long Step, float LearningRate, double GradientNorm, bool Clipped);

/// <summary>
/// Applies an <see cref="Optimizer"/> to a layer's or model's weights from the gradients its
/// backward accumulated: optional global-norm clipping (as <c>torch.nn.utils.clip_grad_norm_</c>),
/// a learning-rate schedule, frozen weights that never change, then the gradients are zeroed for
/// the next accumulation. The state (moments, step) is fp32 and lives here, beside the fp32 master weights.
/// </summary>
public sealed class ParameterOptimizer
{
    private readonly ITrainable _target;
    private readonly HashSet<string> _frozen;
    private readonly Dictionary<string, float[][]> _state = new();
    private readonly string[] _trainable;

    // The unit of parallel work, fixed with the weights: every step reuses it.
    private readonly (string Name, int Start, int Length)[] _chunks;

    /// <summary>An optimizer of <paramref name="target"/>'s weights; <paramref name="maxGradNorm"/> 0 means no clipping; <paramref name="frozen"/> weights never change.</summary>
    public ParameterOptimizer(ITrainable target, Optimizer optimizer, LearningRateSchedule? schedule = null, float maxGradNorm = 0f, IEnumerable<string>? frozen = null)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Schedule = schedule ?? LearningRateSchedule.Constant;
        if (!(maxGradNorm >= 0) || float.IsInfinity(maxGradNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(maxGradNorm), maxGradNorm, "the clipping norm is 0 (no clipping) or a positive finite number");
        }

        MaxGradNorm = maxGradNorm;
        _frozen = new HashSet<string>(frozen ?? Array.Empty<string>());
        foreach (var name in _frozen.Where(n => !target.Weights.Names.Contains(n)))
        {
            throw new ArgumentException($"cannot freeze '{name}': no such weight (have: {string.Join(", ", target.Weights.Names)})", nameof(frozen));
        }

        _trainable = target.Weights.Names.Where(n => !_frozen.Contains(n) && !target.NoGradient.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToArray();
        foreach (var name in _trainable)
        {
            var length = target.Weights[name].Data.Length;
            _state[name] = Enumerable.Range(0, optimizer.StateTensors).Select(_ => new float[length]).ToArray();
        }

        _chunks = Chunks().ToArray();
    }

    /// <summary>The update rule and its hyperparameters.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning rate's factor per step.</summary>
    public LearningRateSchedule Schedule { get; }

    /// <summary>0: no clipping.</summary>
    public float MaxGradNorm { get; }

    /// <summary>Steps taken so far.</summary>
    public long Steps { get; private set; }

    /// <summary>Weights the optimizer never changes.</summary>
    public IReadOnlyCollection<string> Frozen => _frozen;

    /// <summary>The weights this optimizer updates, in name order: all but the frozen ones and those no gradient reaches.</summary>
    public IReadOnlyList<string> Trainable => _trainable;

    /// <summary>Parameters updated over all parameters: e.g. the trainable fraction under prompt tuning.</summary>
    public double TrainableFraction => (double)Trainable.Sum(n => (long)_target.Weights[n].Data.Length) / Math.Max(1, _target.Weights.Names.Sum(n => (long)_target.Weights[n].Data.Length));

    /// <summary>The optimizer state of one weight (AdamW: m then v; SGD with momentum: its buffer), for checkpoints.</summary>
    public IReadOnlyList<float[]> State(string weight) => _state.TryGetValue(weight, out var s)
        ? s
        : throw new KeyNotFoundException($"'{weight}' has no optimizer state (frozen or unknown)");

    /// <summary>Restores the step counter (with <see cref="State"/>'s arrays filled) when resuming.</summary>
    public void Resume(long steps) => Steps = steps >= 0 ? steps : throw new ArgumentOutOfRangeException(nameof(steps));

    /// <summary>The trainable weights cut into pieces of at most 1 Mi elements: the unit of parallel work (the kernels are elementwise).</summary>
    private IEnumerable<(string Name, int Start, int Length)> Chunks()
    {
        const int Piece = 1 << 20;
        foreach (var name in _trainable)
        {
            var length = _target.Weights[name].Data.Length;
            for (var start = 0; start < length; start += Piece)
            {
                yield return (name, start, Math.Min(Piece, length - start));
            }
        }
    }

    /// <summary>One update from the accumulated gradients, which are then zeroed.</summary>
    public OptimizerStepStats Step()
    {
        var kernels = _target.OptimizerKernels;
        var chunks = _chunks;

        // Chunks run in parallel; their sums are added in chunk order, so the norm is deterministic.
        var sums = new double[chunks.Length];
        System.Threading.Tasks.Parallel.For(0, chunks.Length, i => sums[i] = kernels.SumOfSquares(_target.Gradients[chunks[i].Name].Data.AsSpan(chunks[i].Start, chunks[i].Length)));
        var sum = 0.0;
        foreach (var s in sums)
        {
            sum += s;
        }

        var norm = Math.Sqrt(sum);
        if (double.IsNaN(norm) || double.IsInfinity(norm))
        {
            throw new InvalidOperationException($"the gradients are not finite (global norm {norm}); the weights were left unchanged");
        }

        var clip = MaxGradNorm > 0 ? Math.Min(1.0, MaxGradNorm / (norm + 1e-6)) : 1.0;
        Steps++;
        var lr = (float)(Optimizer.LearningRate * Schedule.Factor(Steps));
        var adam = Optimizer is AdamW a
            ? new AdamWStep(1f - (lr * a.WeightDecay), a.Beta1, a.Beta2, a.Eps, (float)(lr / (1 - Math.Pow(a.Beta1, Steps))), (float)Math.Sqrt(1 - Math.Pow(a.Beta2, Steps)), (float)clip)
            : default;
        var sgd = Optimizer is Sgd plain ? new SgdStep(lr, plain.WeightDecay, plain.Momentum, Steps == 1, (float)clip) : default;
        System.Threading.Tasks.Parallel.For(0, chunks.Length, i =>
        {
            var (name, start, length) = chunks[i];
            var w = _target.Weights[name].Data.AsSpan(start, length);
            var g = _target.Gradients[name].Data.AsSpan(start, length);
            var state = _state[name];
            if (Optimizer is AdamW)
            {
                kernels.AdamW(w, g, state[0].AsSpan(start, length), state[1].AsSpan(start, length), adam);
            }
            else
            {
                kernels.Sgd(w, g, state.Length > 0 ? state[0].AsSpan(start, length) : Span<float>.Empty, sgd);
            }
        });

        _target.WeightsChanged();
        _target.Gradients.Clear();
        return new OptimizerStepStats(Steps, lr, norm, clip < 1);
    }
}

/// <summary>Creating optimizers.</summary>
public static class TrainableExtensions
{
    /// <summary>An optimizer over <paramref name="target"/>'s weights: <c>Step()</c> after one or more Backward calls updates them and zeroes the gradients.</summary>
    public static ParameterOptimizer CreateOptimizer(this ITrainable target, Optimizer optimizer, LearningRateSchedule? schedule = null, float maxGradNorm = 0f, IEnumerable<string>? frozen = null) =>
        new(target, optimizer, schedule, maxGradNorm, frozen);
}
