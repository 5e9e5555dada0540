using System.Linq;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>Names that are C# keywords, written with '@', still give code that compiles.</summary>
public class KeywordNameTests
{
    [Fact]
    public void Keyword_namespace_and_class_names_generate_compiling_code()
    {
        const string source = "using Wudao;\n\nnamespace @class.@event;\n\n[MoeLayer(Dim = 8, Experts = 2, TopK = 1, Hidden = 4)]\npublic partial class @struct { }\n";

        var run = GeneratorHarness.Run(source);

        Assert.Null(run.Exception);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal("class.event.struct.Moe.g.cs", Assert.Single(run.Sources).HintName);
        Assert.Contains("namespace @class.@event;", run.SingleSource(), System.StringComparison.Ordinal);
        Assert.Contains("partial class @struct", run.SingleSource(), System.StringComparison.Ordinal);
        Assert.Empty(run.OutputErrors);
    }

    [Fact]
    public void Member_collision_is_reported_at_the_member()
    {
        const string source = "using Wudao;\n\nnamespace N;\n\n[MoeLayer(Dim = 8, Experts = 2, TopK = 1, Hidden = 4)]\npublic partial class L\n{\n    public int Step;\n}\n";

        var run = GeneratorHarness.Run(source);

        var d = run.SingleDiagnostic("WD0009");
        Assert.Equal("'L' declares 'Step', which Wudao generates for MoE layers; rename it", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(7, d.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Empty(run.Sources);
        Assert.Empty(run.OutputErrors);
    }
}
