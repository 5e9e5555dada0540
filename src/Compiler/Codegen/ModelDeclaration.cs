namespace Wudao.Compiler.Codegen;

/// <summary>
/// What the model emitter echoes of the user's declaration and nothing else: where the partial class
/// lives and the name of its MoE layer class. Sizes, weights and kernels come from the plan alone.
/// </summary>
/// <param name="Namespace">The class's namespace; empty for the global one.</param>
/// <param name="Accessibility">The declared accessibility, e.g. <c>public</c>.</param>
/// <param name="ClassName">The partial class's name (a C# identifier).</param>
/// <param name="MoeClassName">The generated MoE layer class its MoE blocks run (a C# identifier).</param>
public sealed record ModelDeclaration(string Namespace, string Accessibility, string ClassName, string MoeClassName);
