using Wudao.Compiler.Spec;

namespace Wudao.Generators.Model;

/// <summary>What the model parser found for one declaration: a spec when it is valid, and its diagnostics.</summary>
internal sealed record ModelParseResult(ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
