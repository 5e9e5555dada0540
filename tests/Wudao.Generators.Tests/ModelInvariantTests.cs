using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Wudao.Compiler.Spec;
using SpecRouterKind = Wudao.Compiler.Spec.RouterKind;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>The models cached by the pipeline hold only plain values and compare by value.</summary>
public class ModelInvariantTests
{
    private const string Declaration = """
        using Wudao;

        namespace N;

        [MoeLayer(Dim = 512, Experts = 16, TopK = 2, Hidden = 2048, Activation = Activation.Gelu)]
        [Router(RouterKind.GShard, CapacityFactor = 1.25f)]
        public partial class MyMoe
        {
        }
        """;

    [Theory]
    [InlineData("Wudao.Compiler.Spec.MoeLayerSpec")]
    [InlineData("Wudao.Generators.Model.ParseResult")]
    [InlineData("Wudao.Generators.Model.DiagnosticInfo")]
    [InlineData("Wudao.Generators.Model.LocationInfo")]
    public void Pipeline_model_holds_no_Roslyn_objects(string typeName)
    {
        var type = typeof(WudaoGenerator).Assembly.GetType(typeName);

        Assert.NotNull(type);
        Assert.Empty(ModelTypeWalker.Violations(type));
    }

    [Fact]
    public void The_walker_finds_Roslyn_objects_however_deeply_they_are_held()
    {
        var violations = ModelTypeWalker.Violations(typeof(LeakyModel));

        Assert.Equal(5, violations.Count);
        Assert.Contains(violations, v => v.Contains("LeakyModel.Symbol", StringComparison.Ordinal) && v.EndsWith("is a ISymbol", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Contains("LeakyModel.Nodes", StringComparison.Ordinal) && v.EndsWith("is a SyntaxNode", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Contains("LeakyInner.Where", StringComparison.Ordinal) && v.EndsWith("is a Location", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Contains("LeakyModel.Models", StringComparison.Ordinal) && v.EndsWith("is a SemanticModel", StringComparison.Ordinal));
        Assert.Contains(violations, v => v.Contains("LeakyInner.Compilations", StringComparison.Ordinal) && v.EndsWith("is a Compilation", StringComparison.Ordinal));
    }

    [Fact]
    public void The_same_declaration_parsed_twice_gives_equal_specs_and_parse_results()
    {
        var first = GeneratorHarness.Run(Declaration);
        var second = GeneratorHarness.Run(Declaration);

        var a = Assert.IsType<MoeLayerSpec>(Assert.Single(first.StepOutputs(WudaoGenerator.SpecStep)).Value);
        var b = Assert.IsType<MoeLayerSpec>(Assert.Single(second.StepOutputs(WudaoGenerator.SpecStep)).Value);
        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(new MoeLayerSpec("N", "MyMoe", "public", 512, 16, 2, 2048, ActivationKind.Gelu, SpecRouterKind.GShard, 1.25f, 0.01f), a);

        var parsedA = Assert.Single(first.StepOutputs(WudaoGenerator.ParseStep)).Value;
        var parsedB = Assert.Single(second.StepOutputs(WudaoGenerator.ParseStep)).Value;
        Assert.Equal("ParseResult", parsedA.GetType().Name);
        Assert.NotSame(parsedA, parsedB);
        Assert.Equal(parsedA, parsedB);
    }

    [Fact]
    public void Parse_results_with_diagnostics_compare_by_value()
    {
        const string bad = """
            using Wudao;

            [MoeLayer(Dim = 0, Experts = 4, TopK = 5, Hidden = 64)]
            public class Bad
            {
            }
            """;
        var parsedA = Assert.Single(GeneratorHarness.Run(bad).StepOutputs(WudaoGenerator.ParseStep)).Value;
        var parsedB = Assert.Single(GeneratorHarness.Run(bad).StepOutputs(WudaoGenerator.ParseStep)).Value;
        var moved = Assert.Single(GeneratorHarness.Run("\n" + bad).StepOutputs(WudaoGenerator.ParseStep)).Value;

        Assert.NotSame(parsedA, parsedB);
        Assert.Equal(parsedA, parsedB);
        Assert.Equal(parsedA.GetHashCode(), parsedB.GetHashCode());
        // Diagnostics carry their location, so the same problems one line lower are a different result.
        Assert.NotEqual(parsedA, moved);
    }

    [Fact]
    public void Specs_differing_in_one_value_are_not_equal()
    {
        var spec = new MoeLayerSpec("N", "L", "public", 64, 8, 2, 128, ActivationKind.Gelu, SpecRouterKind.TopK, 0f, 0.01f);

        Assert.Equal(spec, spec with { });
        Assert.NotEqual(spec, spec with { Hidden = 129 });
        Assert.NotEqual(spec, spec with { CapacityFactor = 1.25f });
        Assert.NotEqual(spec, spec with { Accessibility = "internal" });
    }

    /// <summary>A deliberately bad model: proof that the walker can fail.</summary>
    private sealed record LeakyModel(ISymbol Symbol, ImmutableArray<SyntaxNode> Nodes, LeakyInner Inner, Dictionary<string, SemanticModel[]> Models);

    private sealed class LeakyInner
    {
        public Location? Where { get; set; }

        public List<CSharpCompilationHolder> Compilations { get; } = [];
    }

    private sealed record CSharpCompilationHolder(Microsoft.CodeAnalysis.CSharp.CSharpCompilation Compilation);
}
