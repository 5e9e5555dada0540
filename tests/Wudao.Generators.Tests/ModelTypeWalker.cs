using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace Wudao.Generators.Tests;

/// <summary>
/// Finds members of a pipeline model that would hold Roslyn objects: symbols, syntax, compilations, semantic models or
/// locations keep whole compilations alive and defeat caching, because they never compare equal across runs.
/// </summary>
internal static class ModelTypeWalker
{
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static readonly Type[] Forbidden =
    [
        typeof(ISymbol), typeof(SyntaxNode), typeof(Compilation), typeof(SemanticModel), typeof(Location),
    ];

    /// <summary>Every offending path, e.g. "ParseResult.Spec → MoeLayerSpec.Namespace: ISymbol", empty when the model is clean.</summary>
    public static List<string> Violations(Type root)
    {
        var violations = new List<string>();
        Visit(root, root.Name, violations, new HashSet<Type>());
        return violations;
    }

    private static void Visit(Type type, string path, List<string> violations, HashSet<Type> seen)
    {
        if (Forbidden.FirstOrDefault(f => f.IsAssignableFrom(type)) is { } bad)
        {
            violations.Add($"{path}: {type.Name} is a {bad.Name}");
            return;
        }

        if (!seen.Add(type))
        {
            return;
        }

        if (type.HasElementType)
        {
            Visit(type.GetElementType()!, path + "[]", violations, seen);
        }

        foreach (var argument in type.IsGenericType ? type.GetGenericArguments() : [])
        {
            Visit(argument, $"{path}<{argument.Name}>", violations, seen);
        }

        // Only the model's own types and Roslyn's value types (TextSpan, LinePositionSpan) are opened up; framework
        // types such as string and System.Type are leaves (a record's EqualityContract is a System.Type).
        if (!IsOpened(type))
        {
            return;
        }

        // An auto-property's backing field is reported through the property itself.
        foreach (var field in type.GetFields(Instance).Where(f => !f.Name.EndsWith(">k__BackingField", StringComparison.Ordinal)))
        {
            Visit(field.FieldType, $"{path} → {type.Name}.{field.Name}", violations, seen);
        }

        foreach (var property in type.GetProperties(Instance).Where(p => p.Name != "EqualityContract"))
        {
            Visit(property.PropertyType, $"{path} → {type.Name}.{property.Name}", violations, seen);
        }
    }

    private static bool IsOpened(Type type) =>
        type.Assembly == typeof(WudaoGenerator).Assembly
        || type.Assembly == typeof(ModelTypeWalker).Assembly
        || (type.IsValueType && type.Assembly == typeof(SyntaxNode).Assembly);
}
