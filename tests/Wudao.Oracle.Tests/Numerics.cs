using System;
using System.Collections.Generic;
using Xunit.Sdk;

namespace Wudao.Oracle.Tests;

/// <summary>Comparisons that name the first mismatching index and both values (as in the runtime tests).</summary>
public static class Numerics
{
    /// <summary>|a − b| ≤ atol + rtol·|b| elementwise.</summary>
    public static void Close(IReadOnlyList<float> expected, IReadOnlyList<float> actual, float rtol = 1e-4f, float atol = 1e-5f, string what = "values")
    {
        if (expected.Count != actual.Count)
        {
            throw new XunitException($"{what}: expected {expected.Count} elements, got {actual.Count}");
        }

        for (var i = 0; i < expected.Count; i++)
        {
            var e = expected[i];
            var a = actual[i];
            if (!(MathF.Abs(e - a) <= atol + (rtol * MathF.Abs(e))))
            {
                throw new XunitException($"{what}: first mismatch at index {i}: expected {e:R}, got {a:R}");
            }
        }
    }

    public static void Equal(IReadOnlyList<int> expected, IReadOnlyList<int> actual, string what)
    {
        if (expected.Count != actual.Count)
        {
            throw new XunitException($"{what}: expected {expected.Count} elements, got {actual.Count}");
        }

        for (var i = 0; i < expected.Count; i++)
        {
            if (expected[i] != actual[i])
            {
                throw new XunitException($"{what}: first mismatch at index {i}: expected {expected[i]}, got {actual[i]}");
            }
        }
    }
}
