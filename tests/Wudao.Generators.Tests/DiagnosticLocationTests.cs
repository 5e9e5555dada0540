using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>Each bad declaration reports its diagnostic at the identifier or attribute argument at fault.</summary>
public class DiagnosticLocationTests
{
    [Fact]
    public void Class_not_partial_reports_WD0001_at_the_class_identifier()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            public class Plain
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0001");
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Contains("'Plain' must be declared partial", d.GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(d, source, "Plain");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Dim_zero_reports_WD0002_at_the_Dim_argument_line_and_column()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 0, Experts = 4, TopK = 2, Hidden = 128)]
            public partial class ZeroDim
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0002");
        Assert.Equal("Dim = 0 must be positive", d.GetMessage());
        LocationAssert.At(d, source, "Dim = 0");
        // Spelled out too: line 5, column 11 (1-based), i.e. zero-based (4, 10)..(4, 17).
        Assert.Equal(new LinePositionSpan(new LinePosition(4, 10), new LinePosition(4, 17)), d.Location.GetLineSpan().Span);
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Missing_Dim_reports_WD0002_at_the_attribute()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Experts = 4, TopK = 2, Hidden = 128)]
            public partial class NoDim
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0002");
        Assert.Equal("Dim = 0 must be positive", d.GetMessage());
        LocationAssert.At(d, source, "MoeLayer(Experts = 4, TopK = 2, Hidden = 128)");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void TopK_above_Experts_reports_WD0003_at_the_TopK_argument()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 5, Hidden = 128)]
            public partial class TooManyChoices
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0003");
        Assert.Equal("TopK = 5 exceeds Experts = 4: a token cannot choose more experts than exist", d.GetMessage());
        LocationAssert.At(d, source, "TopK = 5");
        // k = 5 is also beyond what the TopK router supports; that is reported separately, at the same argument.
        LocationAssert.At(run.SingleDiagnostic("WD0005"), source, "TopK = 5");
    }

    [Fact]
    public void Activation_out_of_range_reports_WD0004_at_the_Activation_argument()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128, Activation = (Activation)9)]
            public partial class OddActivation
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0004");
        Assert.Equal("activation value 9 is not one of Gelu, Relu, Silu, SwiGlu, GeGlu", d.GetMessage());
        LocationAssert.At(d, source, "Activation = (Activation)9");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Switch_router_with_TopK_2_reports_WD0005_at_the_TopK_argument()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            [Router(RouterKind.Switch)]
            public partial class SwitchTwo
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0005");
        Assert.Contains("Switch router", d.GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(d, source, "TopK = 2");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Negative_CapacityFactor_reports_WD0005_at_the_CapacityFactor_argument()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            [Router(RouterKind.GShard, CapacityFactor = -1)]
            public partial class NegativeCapacity
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0005");
        Assert.StartsWith("CapacityFactor = -1 ", d.GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(d, source, "CapacityFactor = -1");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Dim_above_the_maximum_reports_WD0006_at_the_Dim_argument()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 10000, Experts = 4, TopK = 2, Hidden = 128)]
            public partial class Wide
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0006");
        Assert.Contains("Dim = 10000 exceeds 8192", d.GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(d, source, "Dim = 10000");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Nested_class_reports_WD0007_at_the_nested_identifier()
    {
        const string source = """
            using Wudao;

            namespace N;

            public partial class Outer
            {
                [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
                public partial class Inner
                {
                }
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0007");
        Assert.Equal("'Inner' is nested in another type; declare MoE layers at namespace level", d.GetMessage());
        LocationAssert.At(d, source, "Inner");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Generic_class_reports_WD0007_at_the_class_identifier()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            public partial class Shaped<T>
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0007");
        Assert.Contains("is generic", d.GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(d, source, "Shaped");
        Assert.Single(run.GeneratorDiagnostics);
    }

    [Fact]
    public void Abstract_class_reports_WD0007()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            public abstract partial class Base
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0007");
        Assert.Contains("static or abstract", d.GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(d, source, "Base");
    }

    [Fact]
    public void A_declaration_with_several_errors_reports_all_of_them()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 0, Experts = -3, TopK = 2, Hidden = 0, Activation = (Activation)7)]
            [Router(RouterKind.TopK, CapacityFactor = -0.5f)]
            public class Broken
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var ids = run.GeneratorDiagnostics.Select(d => d.Id).OrderBy(id => id, System.StringComparer.Ordinal);
        Assert.Equal(new[] { "WD0001", "WD0002", "WD0002", "WD0002", "WD0004", "WD0005" }, ids);
        var sizes = run.GeneratorDiagnostics.Where(d => d.Id == "WD0002").OrderBy(d => d.Location.SourceSpan.Start).ToList();
        LocationAssert.At(sizes[0], source, "Dim = 0");
        LocationAssert.At(sizes[1], source, "Experts = -3");
        LocationAssert.At(sizes[2], source, "Hidden = 0");
        LocationAssert.At(run.SingleDiagnostic("WD0004"), source, "Activation = (Activation)7");
        LocationAssert.At(run.SingleDiagnostic("WD0005"), source, "CapacityFactor = -0.5f");
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void Unknown_router_kind_reports_WD0005_at_the_router_constructor_argument()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            [Router((RouterKind)7)]
            public partial class Unknown
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0005");
        Assert.Equal("router value 7 is not one of TopK, Switch, GShard, NoisyTopK, ExpertChoice, Hash, DeepSeek", d.GetMessage());
        LocationAssert.At(d, source, "(RouterKind)7");
    }

    [Fact]
    public void Invalid_router_combinations_report_WD0011_at_the_argument_at_fault()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            [Router(RouterKind.ExpertChoice, SharedExperts = 2)]
            public partial class Choice
            {
            }

            [MoeLayer(Dim = 64, Experts = 4, TopK = 1, Hidden = 128)]
            [Router(RouterKind.Hash)]
            public partial class Hashed
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var all = run.GeneratorDiagnostics.Where(d => d.Id == "WD0011").OrderBy(d => d.Location.SourceSpan.Start).ToList();
        Assert.Equal(3, all.Count);
        LocationAssert.At(all[0], source, "TopK = 2");
        Assert.Contains("under expert choice the experts pick tokens", all[0].GetMessage(), System.StringComparison.Ordinal);
        LocationAssert.At(all[1], source, "SharedExperts = 2");
        Assert.Equal("SharedExperts is an option of the DeepSeek router; the ExpertChoice router has none", all[1].GetMessage());

        // Vocab is not declared: the diagnostic sits on the Router attribute and says what to add.
        LocationAssert.At(all[2], source, "Router(RouterKind.Hash)");
        Assert.Contains("declare Vocab", all[2].GetMessage(), System.StringComparison.Ordinal);
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void Model_shape_errors_sit_on_the_attribute_argument_at_fault()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)]
            [Attention(Heads = 2, KvHeads = 3)]
            [MoeFeedForward(Experts = 4, TopK = 2, Hidden = 64, Every = 0)]
            public partial class Lm
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        var kv = run.SingleDiagnostic("WD0013");
        LocationAssert.At(kv, source, "KvHeads = 3");
        Assert.Equal("KvHeads = 3 must divide Heads = 2 (each key/value head serves Heads / KvHeads query heads)", kv.GetMessage());
        LocationAssert.At(run.SingleDiagnostic("WD0002"), source, "Every = 0");
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void Router_on_another_partial_part_is_reported_in_that_file()
    {
        const string layer = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            public partial class Split
            {
            }
            """;
        const string router = """
            using Wudao;

            namespace N;

            [Router(RouterKind.Switch)]
            public partial class Split
            {
            }
            """;
        var run = GeneratorHarness.Run(GeneratorHarness.CreateDriver(), GeneratorHarness.Compilation(("Layer.cs", layer), ("Router.cs", router)));

        // The Switch router wants TopK = 1: the fault is the TopK argument, in the file declaring the layer.
        LocationAssert.At(run.SingleDiagnostic("WD0005"), layer, "TopK = 2", "Layer.cs");
        Assert.Empty(run.Sources);

        var negative = router.Replace("RouterKind.Switch", "RouterKind.GShard, CapacityFactor = -2f", System.StringComparison.Ordinal);
        run = GeneratorHarness.Run(GeneratorHarness.CreateDriver(), GeneratorHarness.Compilation(("Layer.cs", layer), ("Router.cs", negative)));
        LocationAssert.At(run.SingleDiagnostic("WD0005"), negative, "CapacityFactor = -2f", "Router.cs");
    }

    [Fact]
    public void A_valid_declaration_next_to_a_bad_one_still_generates()
    {
        const string source = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 0, Experts = 4, Hidden = 128)]
            public partial class Bad
            {
            }

            [MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]
            public partial class Good
            {
            }
            """;
        var run = GeneratorHarness.Run(source);

        Assert.Equal("WD0002", Assert.Single(run.GeneratorDiagnostics).Id);
        Assert.Equal("N.Good.Moe.g.cs", Assert.Single(run.Sources).HintName);
        Assert.Empty(run.OutputErrors);
    }
}
