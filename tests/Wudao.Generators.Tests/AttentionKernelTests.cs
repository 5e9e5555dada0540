using System.Linq;
using Xunit;

namespace Wudao.Generators.Tests;

/// <summary>[AttentionKernel]: the emitted kernel compiles, its head dim is a constant, and a bad head dim is reported at its argument.</summary>
public class AttentionKernelTests
{
    [Theory]
    [InlineData(8, "public static partial class A { }")]
    [InlineData(80, "internal partial class A { }")]
    [InlineData(256, "public static partial class A { }")]
    public void The_kernel_compiles_with_the_head_dim_as_a_constant(int dim, string declaration)
    {
        var run = GeneratorHarness.Run($"using Wudao;\n\nnamespace N.Inner;\n\n[AttentionKernel(HeadDim = {dim})]\n{declaration}\n");

        Assert.Null(run.Exception);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.OutputErrors);
        var source = run.SourceText("N.Inner.A.Attention.g.cs");
        Assert.Contains($"private const int D = {dim};", source, System.StringComparison.Ordinal);
        Assert.Contains("public readonly struct Native : global::Wudao.Attention.INativeAttentionKernel", source, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Columns_split_into_whole_vector_blocks_with_a_half_width_tail()
    {
        // 40 columns under AVX-512: 2 vectors of 16, then one 256-bit vector of 8.
        var source = GeneratorHarness.Run("using Wudao;\nnamespace N;\n[AttentionKernel(HeadDim = 40)]\npublic static partial class A { }\n").SingleSource();

        Assert.Contains("D columns as 2×16 + 1×8", source, System.StringComparison.Ordinal);
        Assert.Contains("D columns as 4×8 + 1×8", source, System.StringComparison.Ordinal);
        Assert.Single(source.Split('\n'), l => l.Contains("private static void Values256x1(", System.StringComparison.Ordinal));
    }

    [Fact]
    public void A_head_dim_that_is_not_whole_vectors_is_reported_at_its_argument()
    {
        var run = GeneratorHarness.Run("using Wudao;\nnamespace N;\n[AttentionKernel(HeadDim = 36)]\npublic static partial class A { }\n");

        var d = run.SingleDiagnostic("WD0013");
        Assert.Contains("HeadDim = 36 must be a positive multiple of 8", d.GetMessage(), System.StringComparison.Ordinal);
        Assert.Equal("HeadDim = 36", run.Input.SyntaxTrees.Single().GetText().ToString(d.Location.SourceSpan));
        Assert.Empty(run.Sources);
    }
}
