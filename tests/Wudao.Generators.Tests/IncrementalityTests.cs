using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>Edits that do not change the layer reuse the cached spec and generated source; edits that do, re-run.</summary>
public class IncrementalityTests
{
    private const string Source = """
        using Wudao;

        namespace N;

        [MoeLayer(Dim = 64, Experts = 8, TopK = 2, Hidden = 2048, Activation = Activation.Silu)]
        public partial class Layer
        {
        }
        """;

    [Theory]
    [InlineData("// a comment at the end\n", false)]
    [InlineData("// a comment at the top that moves the declaration\n", true)]
    public void Adding_a_comment_leaves_the_spec_step_cached(string comment, bool prepend)
    {
        var (first, second) = RunTwice(Source, prepend ? comment + Source : Source + "\n" + comment);

        var firstSpecs = first.StepOutputs(WudaoGenerator.SpecStep);
        Assert.Single(firstSpecs);
        Assert.Equal(IncrementalStepRunReason.New, firstSpecs[0].Reason);

        var specs = second.StepOutputs(WudaoGenerator.SpecStep);
        Assert.NotEmpty(specs);
        Assert.All(specs, o => Assert.True(
            o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
            $"spec step output was {o.Reason}"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Adding_a_comment_does_not_rerun_the_source_outputs(bool prepend)
    {
        const string comment = "// nothing to see\n";
        var (first, second) = RunTwice(Source, prepend ? comment + Source : Source + "\n" + comment);

        Assert.Contains(first.OutputStepOutputs(), o => o.Reason == IncrementalStepRunReason.New);
        var outputs = second.OutputStepOutputs();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        Assert.Equal(first.SingleSource(), second.SingleSource());
    }

    [Fact]
    public void Changing_Hidden_modifies_the_spec_and_the_generated_source()
    {
        var (first, second) = RunTwice(Source, Source.Replace("Hidden = 2048", "Hidden = 1024", System.StringComparison.Ordinal));

        var spec = Assert.Single(second.StepOutputs(WudaoGenerator.SpecStep));
        Assert.Equal(IncrementalStepRunReason.Modified, spec.Reason);
        Assert.Contains(second.OutputStepOutputs(), o => o.Reason == IncrementalStepRunReason.Modified);

        var before = first.SingleSource();
        var after = second.SingleSource();
        Assert.NotEqual(before, after);
        Assert.Contains("public const int H = 2048;", before, System.StringComparison.Ordinal);
        Assert.Contains("public const int H = 1024;", after, System.StringComparison.Ordinal);
    }

    private const string Model = """
        using Wudao;

        namespace N;

        [MoeTransformer(Vocab = 100, Dim = 64, Layers = 2, MaxSequence = 32)]
        [Attention(Heads = 2)]
        [MoeFeedForward(Experts = 4, TopK = 2, Hidden = 64)]
        public partial class Lm
        {
        }
        """;

    [Fact]
    public void Model_spec_is_cached_across_a_comment_and_rebuilt_when_a_size_changes()
    {
        var (first, second) = RunTwice(Model, "// a comment that moves the declaration\n" + Model);

        Assert.Equal(IncrementalStepRunReason.New, Assert.Single(first.StepOutputs(WudaoGenerator.ModelSpecStep)).Reason);
        Assert.All(second.StepOutputs(WudaoGenerator.ModelSpecStep), o => Assert.True(
            o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
            $"model spec step output was {o.Reason}"));
        Assert.Equal(2, second.Sources.Length); // the model and its MoE layer

        var (_, changed) = RunTwice(Model, Model.Replace("Layers = 2", "Layers = 3", System.StringComparison.Ordinal));
        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(changed.StepOutputs(WudaoGenerator.ModelSpecStep)).Reason);
    }

    [Fact]
    public void Turning_on_qk_norm_rebuilds_the_model_with_its_attention_prologue_and_weights()
    {
        var (first, changed) = RunTwice(Model, Model.Replace("[Attention(Heads = 2)]", "[Attention(Heads = 2, QkNorm = true)]", System.StringComparison.Ordinal));

        Assert.Equal(IncrementalStepRunReason.Modified, Assert.Single(changed.StepOutputs(WudaoGenerator.ModelSpecStep)).Reason);
        var before = first.Sources.Single(s => s.HintName.EndsWith(".Model.g.cs", System.StringComparison.Ordinal)).SourceText.ToString();
        var after = changed.Sources.Single(s => s.HintName.EndsWith(".Model.g.cs", System.StringComparison.Ordinal)).SourceText.ToString();
        Assert.DoesNotContain("qk_norm", before, System.StringComparison.Ordinal);
        Assert.Contains("%l1_qkvn = qk_norm %l1_qkv, %l1_qn, %l1_kn", after, System.StringComparison.Ordinal);
        Assert.Contains("\"layers.1.attn.q_norm.weight\", new int[] { 32 }, -1", after, System.StringComparison.Ordinal);
        Assert.Contains("private readonly struct NativeAttention32QkNorm", after, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Adding_an_unrelated_file_leaves_everything_cached()
    {
        var first = GeneratorHarness.Run(Source);
        var input = first.Input.AddSyntaxTrees(GeneratorHarness.Parse("namespace Other; public static class Helper { public static int One => 1; }", "Helper.cs"));
        var second = GeneratorHarness.Run(first.Driver, input);

        Assert.All(second.StepOutputs(WudaoGenerator.SpecStep), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        Assert.All(second.OutputStepOutputs(), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
        Assert.Single(second.Sources);
    }

    [Fact]
    public void Moving_a_bad_declaration_re_reports_at_the_new_location()
    {
        const string bad = """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 0, Experts = 8, TopK = 2, Hidden = 64)]
            public partial class Layer
            {
            }
            """;
        var (first, second) = RunTwice(bad, "// moved down one line\n" + bad);

        var before = first.SingleDiagnostic("WD0002").Location.GetLineSpan().StartLinePosition;
        var after = second.SingleDiagnostic("WD0002").Location.GetLineSpan().StartLinePosition;
        Assert.Equal(before.Line + 1, after.Line);
        Assert.Equal(before.Character, after.Character);
        Assert.Empty(second.Sources);
    }

    /// <summary>Runs the generator on <paramref name="before"/>, then on the same compilation with the tree replaced.</summary>
    private static (GeneratorRun First, GeneratorRun Second) RunTwice(string before, string after)
    {
        var first = GeneratorHarness.Run(before);
        var oldTree = first.Input.SyntaxTrees.Single();
        var input = first.Input.ReplaceSyntaxTree(oldTree, GeneratorHarness.Parse(after));
        return (first, GeneratorHarness.Run(first.Driver, input));
    }
}
