using System;
using System.Reflection;

namespace Wudao.GpuRunner.Testing;

/// <summary>One test to run: a method of a concrete class with one row of arguments (none for a fact).</summary>
/// <param name="Class">The concrete class the method runs on (an inherited method runs on each class that inherits it).</param>
/// <param name="Method">The [Fact] or [Theory] method.</param>
/// <param name="Arguments">The theory row; empty for a fact.</param>
/// <param name="Name">Class.Method(arguments), as printed and reported.</param>
/// <param name="Skip">The skip reason, when the test is skipped; null otherwise.</param>
/// <param name="Error">A discovery failure (the theory's data could not be read); the test then fails with it.</param>
public sealed record TestCase(Type Class, MethodInfo Method, object?[] Arguments, string Name, string? Skip = null, Exception? Error = null);
