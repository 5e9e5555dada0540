using Wudao.Compiler.Spec;

namespace Wudao.Generators.Model;

/// <summary>What the parser found for one declaration: a spec when it is valid, and its diagnostics.</summary>
internal sealed record ParseResult(MoeLayerSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
