using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.GpuRunner.Testing;
using Wudao.Runtime.Tests;
using Xunit;

namespace Wudao.GpuRunner.Tests;

/// <summary>The GPU runner's own xunit runner against <see cref="Samples"/>: what it finds, how it builds and disposes fixtures, what it reports.</summary>
public sealed class RunnerTests
{
    private static List<TestCase> Find(Func<Type, System.Reflection.MethodInfo, bool>? select = null) => TestDiscovery.Find(Samples.All, select).ToList();

    private static List<TestResult> Run(params string[] classes)
    {
        Samples.Log.Clear();
        return TestExecutor.Run(Find().Where(c => classes.Contains(c.Class.Name)).ToList()).ToList();
    }

    [Fact]
    public void Discovery_finds_facts_theory_rows_and_inherited_tests_of_concrete_classes_only()
    {
        var names = Find().Select(c => c.Name).ToList();

        Assert.Equal(
            new[]
            {
                "AlsoInShared.Runs", "Bound.Inherited(5)", "Bound.Inherited(6)", "BrokenFixture.Never",
                "InShared.Fails", "InShared.Fails_later", "InShared.Gets_its_fixtures", "InShared.Inline(3)", "InShared.Inline(4)",
                "InShared.Member(1, \"a\")", "InShared.Member(2, \"b\")", "InShared.Skipped",
                "Mixed.Marked", "Mixed.Unmarked", "Unresolvable.Never",
            },
            names);
        var member = Find().Single(c => c.Name == "InShared.Member(2, \"b\")");
        Assert.Equal(new object?[] { 2, "b" }, member.Arguments);
        Assert.Equal("not here", Find().Single(c => c.Name == "InShared.Skipped").Skip);
    }

    [Fact]
    public void The_accelerator_trait_selects_marked_classes_and_marked_methods()
    {
        var names = Find(TestAccelerator.Runs).Select(c => c.Name);

        Assert.Equal(new[] { "Bound.Inherited(5)", "Bound.Inherited(6)", "Mixed.Marked" }, names);
    }

    [Fact]
    public void Fixtures_are_made_once_injected_and_disposed_when_their_class_or_collection_is_done()
    {
        var results = Run("InShared", "AlsoInShared");

        var outcomes = results.ToDictionary(r => r.Name, r => r.Outcome);
        Assert.Equal(9, results.Count);
        Assert.All(new[] { "InShared.Gets_its_fixtures", "InShared.Inline(3)", "InShared.Member(2, \"b\")", "AlsoInShared.Runs" }, n => Assert.Equal(Outcome.Passed, outcomes[n]));
        Assert.Equal(Outcome.Skipped, outcomes["InShared.Skipped"]);
        Assert.Contains("InShared.Gets_its_fixtures True True", Samples.Log);
        Assert.Contains("Member 2 b", Samples.Log);
        Assert.DoesNotContain("Skipped ran", Samples.Log);

        // One shared fixture for both classes, one class fixture for InShared, seven instances of it (the skipped test makes none).
        Assert.Equal(1, Samples.Log.Count(l => l == "shared made"));
        Assert.Equal(1, Samples.Log.Count(l => l == "own made"));
        Assert.Equal(7, Samples.Log.Count(l => l == "InShared made"));
        Assert.Equal(7, Samples.Log.Count(l => l == "InShared disposed"));
        // Classes run in name order: the class fixture lives while InShared runs, the shared one until the collection ends.
        var log = string.Join(" / ", Samples.Log);
        Assert.StartsWith("shared made / AlsoInShared made True / AlsoInShared.Runs / own made / InShared made", log, StringComparison.Ordinal);
        Assert.EndsWith("InShared disposed / own disposed / shared disposed", log, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failure_is_reported_with_its_exception_and_an_async_test_is_awaited()
    {
        var results = Run("InShared");

        var fails = results.Single(r => r.Name == "InShared.Fails");
        var later = results.Single(r => r.Name == "InShared.Fails_later");
        Assert.Equal(Outcome.Failed, fails.Outcome);
        Assert.StartsWith("Xunit.Sdk.EqualException: Assert.Equal() Failure", fails.Message, StringComparison.Ordinal);
        Assert.Equal(Outcome.Failed, later.Outcome);
        Assert.StartsWith("System.InvalidOperationException: after an await", later.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_constructor_argument_without_a_fixture_or_a_fixture_that_throws_fails_its_tests_by_name()
    {
        var results = Run("Unresolvable", "BrokenFixture");

        Assert.All(results, r => Assert.Equal(Outcome.Failed, r.Outcome));
        Assert.Contains("Unresolvable's constructor asks for Own 'own', which is neither its class fixture nor a fixture of its collection", results.Single(r => r.Name == "Unresolvable.Never").Message, StringComparison.Ordinal);
        var broken = results.Single(r => r.Name == "BrokenFixture.Never").Message;
        Assert.Contains("fixture Exploding could not be created", broken, StringComparison.Ordinal);
        Assert.Contains("no device here", broken, StringComparison.Ordinal);
        Assert.DoesNotContain(Samples.Log, l => l.EndsWith(" ran", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, "null")]
    [InlineData("a", "\"a\"")]
    [InlineData(1.5f, "1.5")]
    [InlineData(new[] { 5, 1 }, "[5, 1]")]
    [InlineData(DeviceKind.Cuda, "Cuda")]
    public void Arguments_read_as_in_a_test_name(object? value, string expected) => Assert.Equal(expected, TestDiscovery.Format(value));
}
