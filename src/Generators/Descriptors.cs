using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Wudao.Generators;

/// <summary>Every diagnostic Wudao reports. Ids are stable: never reuse or renumber one.</summary>
internal static class Descriptors
{
    private const string Category = "Wudao";

    public static readonly DiagnosticDescriptor NotPartial = new(
        "WD0001", "MoE layer class must be partial", "'{0}' must be declared partial so Wudao can add the generated layer", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor NonPositiveSize = new(
        "WD0002", "Size must be positive", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor TopKExceedsExperts = new(
        "WD0003", "TopK exceeds the number of experts", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor UnsupportedActivation = new(
        "WD0004", "Unsupported activation", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor UnsupportedRouterOption = new(
        "WD0005", "Unsupported router option", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor SizeTooLarge = new(
        "WD0006", "Size too large", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor UnsupportedClass = new(
        "WD0007", "MoE layer class shape not supported", "'{0}' {1}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor CompileFailed = new(
        "WD0008", "Wudao could not compile the layer", "Wudao could not compile '{0}': {1}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor MemberCollision = new(
        "WD0009", "Member name collides with a generated member", "'{0}' declares '{1}', which Wudao generates for MoE layers; rename it", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor UnevenPartition = new(
        "WD0010", "Experts do not divide over the ranks", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor InvalidRouterCombination = new(
        "WD0011", "Invalid router combination", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor IncompleteModel = new(
        "WD0012", "Model declaration incomplete", "'{0}' declares [MoeTransformer] but not {1}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor InvalidModelShape = new(
        "WD0013", "Invalid model shape", "{0}", Category, DiagnosticSeverity.Error, true);

    public static readonly DiagnosticDescriptor KernelNotAssembled = new(
        "WD0014", "A planned kernel could not be assembled", "Wudao could not assemble a kernel of '{0}': {1}", Category, DiagnosticSeverity.Error, true);

    private static readonly Dictionary<string, DiagnosticDescriptor> All = new[]
    {
        NotPartial, NonPositiveSize, TopKExceedsExperts, UnsupportedActivation, UnsupportedRouterOption, SizeTooLarge, UnsupportedClass, CompileFailed, MemberCollision, UnevenPartition, InvalidRouterCombination, IncompleteModel, InvalidModelShape, KernelNotAssembled,
    }.ToDictionary(d => d.Id);

    public static DiagnosticDescriptor ById(string id) => All[id];
}
