using System;

namespace Wudao;

/// <summary>
/// Declares a Mixture-of-Experts layer on a <c>partial class</c>; Wudao's generator compiles it
/// into fused kernels and adds <c>Create</c>, <c>Forward</c>, <c>Info</c> and <c>Kernels</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class MoeLayerAttribute : Attribute
{
    /// <summary>Model width d: tokens are rows of d floats.</summary>
    public int Dim { get; set; }

    /// <summary>Number of experts E.</summary>
    public int Experts { get; set; }

    /// <summary>Experts chosen per token k.</summary>
    public int TopK { get; set; } = 1;

    /// <summary>Hidden width of each expert's feed-forward network.</summary>
    public int Hidden { get; set; }

    /// <summary>Expert activation.</summary>
    public Activation Activation { get; set; } = Activation.Gelu;

    /// <summary>α of the load-balancing loss α·E·Σ f_i·P_i.</summary>
    public float AuxLossWeight { get; set; } = 0.01f;
}
