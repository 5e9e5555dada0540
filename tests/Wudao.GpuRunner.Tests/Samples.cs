using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Xunit;

// The runner under test reads these as xunit would. They are internal so that xunit itself, which
// runs public classes only, leaves them alone: some fail on purpose, and Unresolvable asks for a
// fixture nobody provides, which is what the runner must report.
#pragma warning disable xUnit1000 // Test classes must be public
#pragma warning disable xUnit1027 // Collection definition classes must be public
#pragma warning disable xUnit1041 // Fixture arguments must have a fixture source

namespace Wudao.GpuRunner.Tests;

/// <summary>Sample suites for <see cref="RunnerTests"/>, and the log of what they did.</summary>
public static class Samples
{
    /// <summary>What the samples did, in order; <see cref="RunnerTests"/> clears it before each run.</summary>
    public static List<string> Log { get; } = new();

    public static Type[] All => new[] { typeof(Shared), typeof(Own), typeof(InShared), typeof(AlsoInShared), typeof(Bound), typeof(Mixed), typeof(Unresolvable), typeof(BrokenFixture), typeof(AbstractSuite) };

    internal sealed class Shared : IDisposable
    {
        public Shared() => Log.Add("shared made");

        public void Dispose() => Log.Add("shared disposed");
    }

    internal sealed class Own : IDisposable
    {
        public Own() => Log.Add("own made");

        public void Dispose() => Log.Add("own disposed");
    }

    internal sealed class Exploding
    {
        public Exploding() => throw new InvalidOperationException("no device here");
    }

    [CollectionDefinition("sample collection")]
    internal sealed class SharedCollection : ICollectionFixture<Shared>
    {
    }

    [Collection("sample collection")]
    internal sealed class InShared : IClassFixture<Own>, IDisposable
    {
        private readonly Shared _shared;
        private readonly Own _own;

        public InShared(Shared shared, Own own)
        {
            _shared = shared;
            _own = own;
            Log.Add("InShared made");
        }

        public static IEnumerable<object[]> Rows => new[] { new object[] { 1, "a" }, new object[] { 2, "b" } };

        [Fact]
        public void Gets_its_fixtures() => Log.Add($"InShared.Gets_its_fixtures {_shared != null} {_own != null}");

        [Theory]
        [InlineData(3)]
        [InlineData(4)]
        public void Inline(int n) => Log.Add($"Inline {n}");

        [Theory]
        [MemberData(nameof(Rows))]
        public void Member(int n, string s) => Log.Add($"Member {n} {s}");

        [Fact(Skip = "not here")]
        public void Skipped() => Log.Add("Skipped ran");

        [Fact]
        public void Fails() => Assert.Equal(1, 2);

        [Fact]
        public async Task Fails_later()
        {
            await Task.Yield();
            throw new InvalidOperationException("after an await");
        }

        public void Dispose() => Log.Add("InShared disposed");
    }

    [Collection("sample collection")]
    internal sealed class AlsoInShared
    {
        public AlsoInShared(Shared shared) => Log.Add($"AlsoInShared made {shared != null}");

        [Fact]
        public void Runs() => Log.Add("AlsoInShared.Runs");
    }

    /// <summary>An abstract suite, bound by <see cref="Bound"/>: its tests run on the binding class.</summary>
    internal abstract class AbstractSuite
    {
        protected AbstractSuite(string target) => Target = target;

        public string Target { get; }

        public static TheoryData<int> Sizes => new(5, 6);

        [Theory]
        [MemberData(nameof(Sizes))]
        public void Inherited(int size) => Log.Add($"Inherited {Target} {size}");
    }

    [Trait("accelerator", "ilgpu")]
    internal sealed class Bound : AbstractSuite
    {
        public Bound()
            : base("bound")
        {
        }
    }

    internal sealed class Mixed
    {
        [Fact]
        [Trait("accelerator", "ilgpu")]
        public void Marked() => Log.Add("Mixed.Marked");

        [Fact]
        public void Unmarked() => Log.Add("Mixed.Unmarked");
    }

    internal sealed class Unresolvable
    {
        public Unresolvable(Own own) => Log.Add($"Unresolvable made {own != null}");

        [Fact]
        public void Never() => Log.Add("Unresolvable.Never ran");
    }

    internal sealed class BrokenFixture : IClassFixture<Exploding>
    {
        public BrokenFixture(Exploding exploding) => Log.Add($"BrokenFixture made {exploding != null}");

        [Fact]
        public void Never() => Log.Add("BrokenFixture.Never ran");
    }
}
