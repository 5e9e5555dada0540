using System;

namespace Wudao;

/// <summary>An optimizer's hyperparameters; the update itself is a generated kernel (see <see cref="IOptimizerKernels"/>).</summary>
public abstract record Optimizer
{
    /// <summary>Checks the shared hyperparameters.</summary>
    protected Optimizer(float learningRate, float weightDecay)
    {
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "the learning rate must be a positive finite number");
        }

        if (!(weightDecay >= 0) || float.IsInfinity(weightDecay))
        {
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be zero or a positive finite number");
        }

        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>The peak learning rate; a <see cref="LearningRateSchedule"/> scales it per step.</summary>
    public float LearningRate { get; }

    /// <summary>Weight decay: decoupled (AdamW) or added to the gradient as L2 (SGD).</summary>
    public float WeightDecay { get; }

    /// <summary>Optimizer state tensors per weight (AdamW: m and v; SGD with momentum: its buffer).</summary>
    internal abstract int StateTensors { get; }
}

/// <summary>
/// AdamW (Loshchilov &amp; Hutter): decoupled weight decay and bias-corrected moments, as
/// <c>torch.optim.AdamW</c> with its defaults.
/// </summary>
public sealed record AdamW : Optimizer
{
    /// <summary>torch.optim.AdamW's defaults, except the learning rate where given.</summary>
    public AdamW(float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f, float weightDecay = 0.01f)
        : base(lr, weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(beta1), $"betas must lie in [0, 1), got ({beta1}, {beta2})");
        }

        if (!(eps > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive");
        }

        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; }

    /// <summary>Added to the second moment's root.</summary>
    public float Eps { get; }

    internal override int StateTensors => 2;
}

/// <summary>SGD with optional momentum and L2 weight decay added to the gradient, as <c>torch.optim.SGD</c> (no dampening, no Nesterov).</summary>
public sealed record Sgd : Optimizer
{
    /// <summary>SGD at <paramref name="lr"/>, with momentum when <paramref name="momentum"/> &gt; 0.</summary>
    public Sgd(float lr, float momentum = 0f, float weightDecay = 0f)
        : base(lr, weightDecay)
    {
        if (!(momentum >= 0 && momentum < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must lie in [0, 1)");
        }

        Momentum = momentum;
    }

    /// <summary>0: plain SGD.</summary>
    public float Momentum { get; }

    internal override int StateTensors => Momentum > 0 ? 1 : 0;
}

/// <summary>The learning rate's factor per step (1-based): constant, or linear warmup then cosine decay.</summary>
public abstract record LearningRateSchedule
{
    /// <summary>The peak rate at every step.</summary>
    public static LearningRateSchedule Constant { get; } = new ConstantSchedule();

    /// <summary>The factor for optimizer step <paramref name="step"/> (1 is the first).</summary>
    public abstract double Factor(long step);

    private sealed record ConstantSchedule : LearningRateSchedule
    {
        public override double Factor(long step) => 1;
    }
}

/// <summary>
/// Linear warmup over <see cref="WarmupSteps"/> steps (step s gets s / warmup), then cosine decay
/// to <see cref="MinFactor"/> at <see cref="TotalSteps"/>, constant after.
/// </summary>
public sealed record WarmupCosine : LearningRateSchedule
{
    /// <summary>Warmup over <paramref name="warmupSteps"/>, cosine to <paramref name="minFactor"/> of the peak at <paramref name="totalSteps"/>.</summary>
    public WarmupCosine(long warmupSteps, long totalSteps, double minFactor = 0)
    {
        if (warmupSteps < 0 || totalSteps <= warmupSteps)
        {
            throw new ArgumentOutOfRangeException(nameof(totalSteps), $"need 0 ≤ warmup ({warmupSteps}) < total ({totalSteps})");
        }

        if (!(minFactor >= 0 && minFactor <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(minFactor), minFactor, "the floor is a fraction of the peak rate, in [0, 1]");
        }

        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinFactor = minFactor;
    }

    /// <summary>Steps of linear warmup.</summary>
    public long WarmupSteps { get; }

    /// <summary>The step where the decay reaches its floor.</summary>
    public long TotalSteps { get; }

    /// <summary>The floor, as a fraction of the peak rate.</summary>
    public double MinFactor { get; }

    /// <inheritdoc/>
    public override double Factor(long step)
    {
        if (step <= WarmupSteps)
        {
            return (double)step / WarmupSteps;
        }

        var progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return MinFactor + ((1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
