namespace Wudao.Compiler.Spec;

/// <summary>
/// Everything the compiler needs to know about one declared MoE layer. Only primitives and
/// strings, so record equality is value equality and the generator can cache on it.
/// </summary>
/// <param name="Namespace">Namespace of the user's class, empty for the global namespace.</param>
/// <param name="ClassName">Name of the user's partial class.</param>
/// <param name="Accessibility">C# accessibility keyword of the user's class ("public", "internal").</param>
/// <param name="Dim">Model width d.</param>
/// <param name="Experts">Number of experts E.</param>
/// <param name="TopK">Experts chosen per token k.</param>
/// <param name="Hidden">Expert hidden width h.</param>
/// <param name="Activation">Expert activation.</param>
/// <param name="Router">Routing algorithm.</param>
/// <param name="CapacityFactor">Capacity factor; 0 means dropless.</param>
/// <param name="AuxLossWeight">α in the load-balancing loss α·E·Σ f_i·P_i.</param>
/// <param name="Ranks">Ranks the experts are declared to be spread over; 0 when not declared.</param>
/// <param name="Jitter">ε of the router-input jitter U(1−ε, 1+ε) (Switch Transformer); 0 for none.</param>
/// <param name="ZLossWeight">Weight of the router z-loss (1/T)·Σ_t (log Σ_e exp z_te)²; 0 for none.</param>
public sealed record MoeLayerSpec(
    string Namespace,
    string ClassName,
    string Accessibility,
    int Dim,
    int Experts,
    int TopK,
    int Hidden,
    ActivationKind Activation,
    RouterKind Router,
    float CapacityFactor,
    float AuxLossWeight,
    int Ranks = 0,
    float Jitter = 0f,
    float ZLossWeight = 0f)
{
    /// <summary>Default capacity factor of a router when the declaration names none.</summary>
    public static float DefaultCapacityFactor(RouterKind router) => router == RouterKind.TopK ? 0f : 1.25f;

    /// <summary>Width of the first expert GEMM's output: SwiGLU computes gate and up halves.</summary>
    public int HiddenIn => Activation == ActivationKind.SwiGlu ? 2 * Hidden : Hidden;
}
