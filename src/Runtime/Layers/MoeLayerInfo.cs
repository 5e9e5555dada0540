using System;
using System.Collections.Generic;

namespace Wudao;

/// <summary>What the compiler knew about a layer, exposed by the generated <c>Info</c> property.</summary>
public sealed class MoeLayerInfo
{
    /// <summary>Generated code passes what the compiler knew; not for hand-written use.</summary>
    public MoeLayerInfo(string name, int dim, int experts, int topK, int hidden, Activation activation, RouterKind router, float capacityFactor, float auxLossWeight, WeightSpec[] weights, string graphText, string planText, int ranks = 0, float jitter = 0f, float zLossWeight = 0f, RouterOptions? options = null, string trainPlanText = "")
    {
        TrainPlanText = trainPlanText;
        Options = options ?? RouterOptions.None;
        Jitter = jitter;
        ZLossWeight = zLossWeight;
        Ranks = ranks;
        Name = name;
        Dim = dim;
        Experts = experts;
        TopK = topK;
        Hidden = hidden;
        Activation = activation;
        Router = router;
        CapacityFactor = capacityFactor;
        AuxLossWeight = auxLossWeight;
        Weights = weights;
        GraphText = graphText;
        PlanText = planText;
    }

    /// <summary>The layer's name.</summary>
    public string Name { get; }

    /// <summary>Model width d: floats per token row in and out.</summary>
    public int Dim { get; }

    /// <summary>Routed experts E (DeepSeek's shared experts not included; see <see cref="FfnExperts"/>).</summary>
    public int Experts { get; }

    /// <summary>Experts each token is routed to (not used by expert choice).</summary>
    public int TopK { get; }

    /// <summary>Hidden width of each expert's feed-forward.</summary>
    public int Hidden { get; }

    /// <summary>The experts' activation.</summary>
    public Activation Activation { get; }

    /// <summary>The router kind.</summary>
    public RouterKind Router { get; }

    /// <summary>0 means dropless.</summary>
    public float CapacityFactor { get; }

    /// <summary>α of the load-balancing loss of the softmax routers (TopK, Switch, GShard).</summary>
    public float AuxLossWeight { get; }

    /// <summary>Name and shape of every weight the layer loads.</summary>
    public IReadOnlyList<WeightSpec> Weights { get; }

    /// <summary>ε of the router-input jitter; 0 for none.</summary>
    public float Jitter { get; }

    /// <summary>Weight of the router z-loss; 0 for none.</summary>
    public float ZLossWeight { get; }

    /// <summary>The options of the NoisyTopK, DeepSeek and Hash routers (zeros for the others).</summary>
    public RouterOptions Options { get; }

    /// <summary>Experts the feed-forward runs: the routed ones, then DeepSeek's shared ones.</summary>
    public int FfnExperts => Experts + Options.SharedExperts;

    /// <summary>Expert slots per token: TopK plus the shared experts, or every expert under expert choice.</summary>
    public int Choices => Router == RouterKind.ExpertChoice ? Experts : TopK + Options.SharedExperts;

    /// <summary>Ranks declared with [ExpertParallel]; 0 when the layer declares none (any divisor of E works).</summary>
    public int Ranks { get; }

    /// <summary>The graph IR, as the compiler printed it.</summary>
    public string GraphText { get; }

    /// <summary>The fusion plan: kernels, the ops each holds, and each fusion refused with its reason.</summary>
    public string PlanText { get; }

    /// <summary>
    /// The backward the compiler derived for training: what the forward saves, what the backward
    /// recomputes and why, the backward graph and its fused kernels; or why the layer cannot be
    /// differentiated yet (an op without a gradient rule). Backward kernels are not emitted yet.
    /// </summary>
    public string TrainPlanText { get; }


    /// <summary>The layer's sizes, activation, router and capacity factor in one line.</summary>
    public override string ToString() =>
        $"{Name}: d={Dim}, E={Experts}{Choosing}, h={Hidden}, {Activation}, router {Router}, capacity factor {CapacityFactor}";

    private string Choosing => Router == RouterKind.ExpertChoice
        ? ", experts choose tokens"
        : Options.SharedExperts > 0 ? $", k={TopK} + {Options.SharedExperts} shared" : $", k={TopK}";
}
