namespace Wudao.Compiler.Codegen;

/// <summary>
/// What the launcher echoes of the user's declaration and nothing else: where the partial class
/// lives and the arguments of its <c>MoeLayerInfo</c> (C# expressions, in order). Kernels and
/// launch code come from the plan alone.
/// </summary>
/// <param name="Namespace">The class's namespace; empty for the global one.</param>
/// <param name="Accessibility">The declared accessibility, e.g. <c>public</c>.</param>
/// <param name="ClassName">The partial class's name.</param>
/// <param name="Sizes">Dim, experts, top-k, hidden.</param>
/// <param name="Routing">Activation, router kind, capacity factor, aux-loss weight.</param>
/// <param name="Extras">Ranks, jitter, z-loss weight.</param>
/// <param name="Options">The <c>RouterOptions</c> expression.</param>
public sealed record LayerDeclaration(string Namespace, string Accessibility, string ClassName, string Sizes, string Routing, string Extras, string Options);
