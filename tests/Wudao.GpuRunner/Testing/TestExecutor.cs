using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using System.Threading.Tasks;
using Xunit;

namespace Wudao.GpuRunner.Testing;

/// <summary>
/// Runs test cases one at a time as xunit 2 would: a new instance of the class for every test,
/// built with the fixtures its constructor asks for (the class's <see cref="IClassFixture{T}"/>,
/// created once for the class; its collection's <see cref="ICollectionFixture{T}"/>, created once
/// for every class of the collection); instances and fixtures disposed when done. One at a time:
/// the suites share one accelerator.
/// </summary>
public static class TestExecutor
{
    /// <summary>Runs <paramref name="cases"/>, collection by collection, and reports each result as it comes.</summary>
    public static IReadOnlyList<TestResult> Run(IReadOnlyList<TestCase> cases, Action<TestResult>? report = null)
    {
        ArgumentNullException.ThrowIfNull(cases);
        var results = new List<TestResult>();
        void Add(TestResult r)
        {
            results.Add(r);
            report?.Invoke(r);
        }

        // A class with no [Collection] is a collection of its own, as in xunit.
        var collections = cases.GroupBy(c => c.Class).GroupBy(g => CollectionOf(g.Key) ?? g.Key.FullName!);
        foreach (var collection in collections)
        {
            var definition = Definition(collection.First().Key, collection.Key);
            using var shared = new Fixtures(definition == null ? Array.Empty<Type>() : Arguments(definition, typeof(ICollectionFixture<>)));
            foreach (var testClass in collection)
            {
                using var own = new Fixtures(Arguments(testClass.Key, typeof(IClassFixture<>)));
                foreach (var test in testClass)
                {
                    Add(RunOne(test, shared, own));
                }

                own.Dispose(Add, testClass.Key.Name);
            }

            shared.Dispose(Add, collection.Key);
        }

        return results;
    }

    private static TestResult RunOne(TestCase test, Fixtures shared, Fixtures own)
    {
        if (test.Skip != null)
        {
            return new TestResult(test.Name, Outcome.Skipped, 0, test.Skip);
        }

        var clock = Stopwatch.StartNew();
        try
        {
            if (test.Error != null)
            {
                throw new InvalidOperationException("the test's data could not be read", test.Error);
            }

            var instance = test.Method.IsStatic ? null : Construct(test.Class, shared, own);
            try
            {
                Await(test.Method.Invoke(instance, test.Arguments));
            }
            finally
            {
                DisposeOf(instance);
            }

            return new TestResult(test.Name, Outcome.Passed, clock.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            var inner = Unwrap(e);
            return inner.GetType().FullName == "Xunit.SkipException"
                ? new TestResult(test.Name, Outcome.Skipped, clock.Elapsed.TotalSeconds, inner.Message)
                : new TestResult(test.Name, Outcome.Failed, clock.Elapsed.TotalSeconds, Describe(inner));
        }
    }

    private static object Construct(Type type, Fixtures shared, Fixtures own)
    {
        var constructors = type.GetConstructors();
        if (constructors.Length != 1)
        {
            throw new InvalidOperationException($"{type.Name} has {constructors.Length} public constructors; a test class has exactly one");
        }

        var arguments = constructors[0].GetParameters()
            .Select(p => own.Find(p.ParameterType) ?? shared.Find(p.ParameterType) ?? throw new InvalidOperationException(
                $"{type.Name}'s constructor asks for {p.ParameterType.Name} '{p.Name}', which is neither its class fixture nor a fixture of its collection"))
            .ToArray();
        return constructors[0].Invoke(arguments);
    }

    private static void Await(object? returned)
    {
        switch (returned)
        {
            case Task task:
                task.GetAwaiter().GetResult();
                break;
            case ValueTask task:
                task.AsTask().GetAwaiter().GetResult();
                break;
        }
    }

    private static void DisposeOf(object? instance)
    {
        switch (instance)
        {
            case IAsyncDisposable a:
                a.DisposeAsync().AsTask().GetAwaiter().GetResult();
                break;
            case IDisposable d:
                d.Dispose();
                break;
        }
    }

    private static Exception Unwrap(Exception e) => e is TargetInvocationException { InnerException: { } inner } ? Unwrap(inner) : e;

    private static string Describe(Exception e) => $"{e.GetType().FullName}: {e.Message}{(e.InnerException is { } i ? $"\n ---> {i.GetType().FullName}: {i.Message}" : "")}\n{e.StackTrace}";

    private static string? CollectionOf(Type type) => type.CustomAttributes
        .Where(a => a.AttributeType == typeof(CollectionAttribute))
        .Select(a => a.ConstructorArguments[0].Value as string)
        .FirstOrDefault();

    private static Type? Definition(Type member, string collection) => member.Assembly.GetTypes().FirstOrDefault(t => t.CustomAttributes.Any(a =>
        a.AttributeType == typeof(CollectionDefinitionAttribute) && a.ConstructorArguments.Count > 0 && Equals(a.ConstructorArguments[0].Value, collection)));

    private static Type[] Arguments(Type type, Type fixture) => type.GetInterfaces()
        .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == fixture)
        .Select(i => i.GetGenericArguments()[0])
        .ToArray();

    /// <summary>Fixtures created on first use; one that failed to construct fails every test that asks for it, with its error.</summary>
    private sealed class Fixtures : IDisposable
    {
        private readonly Dictionary<Type, (object? Value, Exception? Error)> _made = new();
        private readonly Type[] _types;
        private bool _disposed;

        public Fixtures(Type[] types) => _types = types;

        public object? Find(Type wanted)
        {
            var type = _types.FirstOrDefault(wanted.IsAssignableFrom);
            if (type == null)
            {
                return null;
            }

            if (!_made.TryGetValue(type, out var made))
            {
                try
                {
                    made = (Activator.CreateInstance(type), null);
                }
                catch (Exception e)
                {
                    made = (null, Unwrap(e));
                }

                _made[type] = made;
            }

            return made.Error == null ? made.Value : throw new InvalidOperationException($"fixture {type.Name} could not be created", made.Error);
        }

        /// <summary>Disposes the fixtures made, reporting a failing disposal as a failed result named after the owner.</summary>
        public void Dispose(Action<TestResult> report, string owner)
        {
            foreach (var (type, made) in _made)
            {
                try
                {
                    DisposeOf(made.Value);
                }
                catch (Exception e)
                {
                    report(new TestResult($"{owner} (disposing fixture {type.Name})", Outcome.Failed, 0, Describe(Unwrap(e))));
                }
            }

            _made.Clear();
            _disposed = true;
        }

        public void Dispose()
        {
            if (!_disposed)
            {
                Dispose(_ => { }, "");
            }
        }
    }
}
