using Wudao.Compiler.Spec;

namespace Wudao.Generators.Model;

/// <summary>What the attention kernel parser found for one declaration: a spec when it is valid, and its diagnostics.</summary>
internal sealed record AttentionKernelParseResult(AttentionKernelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
