using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using Xunit;
using Xunit.Sdk;

namespace Wudao.GpuRunner.Testing;

/// <summary>
/// Finds xunit 2 tests as xunit does: the public [Fact] and [Theory] methods of concrete classes,
/// inherited ones included (an abstract suite runs once per class that binds it), one case per
/// theory row read through the data attributes' own <see cref="DataAttribute.GetData"/>.
/// </summary>
public static class TestDiscovery
{
    /// <summary>The tests of <paramref name="types"/> that <paramref name="select"/> (class, method) accepts; all when it is null.</summary>
    public static IReadOnlyList<TestCase> Find(IEnumerable<Type> types, Func<Type, MethodInfo, bool>? select = null)
    {
        ArgumentNullException.ThrowIfNull(types);
        var cases = new List<TestCase>();
        foreach (var type in types.Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static)
                .Where(m => m.GetCustomAttribute<FactAttribute>(inherit: true) != null && (select == null || select(type, m)))
                .OrderBy(m => m.Name, StringComparer.Ordinal);
            foreach (var method in methods)
            {
                cases.AddRange(Cases(type, method));
            }
        }

        return cases;
    }

    /// <summary>An argument as it reads in a test's name: strings quoted, arrays listed, numbers invariant.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        Type t => t.Name,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Format)) + "]",
        _ => value.ToString() ?? "",
    };

    private static IEnumerable<TestCase> Cases(Type type, MethodInfo method)
    {
        var fact = method.GetCustomAttribute<FactAttribute>(inherit: true)!;
        var name = $"{type.Name}.{method.Name}";
        if (fact.Skip != null || fact is not TheoryAttribute)
        {
            yield return new TestCase(type, method, Array.Empty<object?>(), name, fact.Skip);
            yield break;
        }

        var found = false;
        foreach (var data in method.GetCustomAttributes<DataAttribute>(inherit: true))
        {
            List<object?[]> rows;
            Exception? error = null;
            try
            {
                rows = data.GetData(method).Select(r => (object?[])r).ToList();
            }
            catch (Exception e)
            {
                rows = new List<object?[]>();
                error = e;
            }

            if (error != null)
            {
                found = true;
                yield return new TestCase(type, method, Array.Empty<object?>(), $"{name} [{data.GetType().Name}]", Error: error);
                continue;
            }

            foreach (var row in rows)
            {
                found = true;
                var arguments = WithDefaults(method, row);
                yield return new TestCase(type, method, arguments, $"{name}({string.Join(", ", row.Select(Format))})", data.Skip);
            }
        }

        if (!found)
        {
            yield return new TestCase(type, method, Array.Empty<object?>(), name, Error: new InvalidOperationException($"{name} is a theory without data rows"));
        }
    }

    /// <summary>A row shorter than the parameter list takes the remaining parameters' default values, as xunit does.</summary>
    private static object?[] WithDefaults(MethodInfo method, object?[] row)
    {
        var parameters = method.GetParameters();
        if (row.Length >= parameters.Length || !parameters.Skip(row.Length).All(p => p.HasDefaultValue))
        {
            return row;
        }

        return row.Concat(parameters.Skip(row.Length).Select(p => p.DefaultValue)).ToArray();
    }
}
