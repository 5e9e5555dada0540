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
/// <param name="ImportanceWeight">NoisyTopK: weight of CV²(importance).</param>
/// <param name="LoadWeight">NoisyTopK: weight of CV²(load).</param>
/// <param name="SharedExperts">DeepSeek: always-on experts, stored after the routed ones.</param>
/// <param name="BiasUpdateRate">DeepSeek: γ of the balancing-bias update.</param>
/// <param name="Vocab">Hash: token ids lie in [0, Vocab); 0 when not declared.</param>
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
    float ZLossWeight = 0f,
    float ImportanceWeight = 0f,
    float LoadWeight = 0f,
    int SharedExperts = 0,
    float BiasUpdateRate = 0f,
    int Vocab = 0)
{
    /// <summary>Default capacity factor of a router when the declaration names none.</summary>
    public static float DefaultCapacityFactor(RouterKind router) => router switch
    {
        RouterKind.Switch or RouterKind.GShard => 1.25f,
        RouterKind.ExpertChoice => 2f,
        _ => 0f,
    };

    /// <summary>Whether the router computes the Switch/GShard load-balancing loss α·E·Σ f_i·P_i.</summary>
    public static bool HasAuxLoss(RouterKind router) => router is RouterKind.TopK or RouterKind.Switch or RouterKind.GShard;

    /// <summary>Expert slots per token: k routed choices plus the shared experts, or every expert under expert choice.</summary>
    public int Choices => Router == RouterKind.ExpertChoice ? Experts : TopK + SharedExperts;

    /// <summary>Experts the feed-forward kernel runs: the routed ones, then the shared ones.</summary>
    public int FfnExperts => Experts + SharedExperts;

    /// <summary>Width of the first expert GEMM's output: SwiGLU computes gate and up halves.</summary>
    public int HiddenIn => (Ir.Activations.ByValue((int)Activation)?.Width ?? 1) * Hidden;
}
