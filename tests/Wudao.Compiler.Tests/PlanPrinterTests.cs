using System.Linq;
using System.Text.RegularExpressions;
using Wudao.Compiler.Codegen;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

public class PlanPrinterTests
{
    private static readonly KernelPlan GShard = PassPipeline.Run(MoeLowering.Lower(TestSpecs.Make(RouterKind.GShard, dim: 512, experts: 16, hidden: 32)));

    [Fact]
    public void Header_names_graph_kernel_count_and_syncs()
    {
        Assert.Equal("plan L (5 kernels, 1 host sync per call)", TestSpecs.Lines(PlanPrinter.Print(GShard))[0]);
    }

    [Fact]
    public void Each_kernel_has_a_line_with_ops_and_launch()
    {
        var lines = TestSpecs.Lines(PlanPrinter.Print(GShard));

        string[] expected =
        {
            @"k0 gate \[matmul, softmax, topk, renorm, second_drop\] grid: T threads",
            @"k1 route \[capacity, scan, nonfinite, aux_loss\] grid: 1 group",
            @"k2 dispatch \[dispatch\] grid: T\*k\*d threads",
            @"k3 expert_ffn \[grouped_matmul, bias, gelu, grouped_matmul, bias\] grid: expert tiles",
            @"k4 combine \[combine\] grid: T\*d threads",
        };
        var kernelLines = lines.Skip(1).Take(5).Select(l => Regex.Replace(l.Trim(), " +", " ")).ToArray();
        Assert.Equal(5, kernelLines.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Matches("^" + expected[i] + "$", kernelLines[i]);
        }
    }

    [Fact]
    public void Each_target_prints_its_own_schedule_of_the_expert_kernel()
    {
        Assert.Equal("  ilgpu schedule: k3 groups of ceil(T*k/8)+E, tile 8 rows x 32 hidden in shared memory, up to 256 threads a group\n", IlgpuSchedule.Describe(GShard));
        Assert.StartsWith("  native schedule: k3 tiles of 96 rows, packed GEMM panels, k blocks of 256; row kernels 32 tokens a work item\n", NativeSchedule.Describe(GShard));
    }

    [Fact]
    public void Device_memory_line_lists_materialized_values()
    {
        var lines = TestSpecs.Lines(PlanPrinter.Print(GShard));

        Assert.Equal(
            "  device memory: %probs: f32[T,16], %gates: f32[T,2], %experts: i32[T,2], %slots: i32[T,2], %kept: i32[16], %dropped: i32[], %offsets: i32[17], %nonfinite: i32[], %aux: f32[], %rows: f32[S,512], %y: f32[S,512], %out: f32[T,512]",
            lines[6]);
    }

    [Fact]
    public void Refused_fusions_are_listed_with_reasons()
    {
        var notFused = TestSpecs.Lines(PlanPrinter.Print(GShard)).Where(l => l.Contains("not fused:")).ToList();

        Assert.Equal(4, notFused.Count);
        Assert.StartsWith("  not fused: %slots = capacity into k0 — capacity slots tokens in order", notFused[0]);
        Assert.StartsWith("  not fused: %rows = dispatch into k1 — scatter needs every expert's final offset", notFused[1]);
        Assert.StartsWith("  not fused: %h = grouped_matmul into k2 — GEMM tiles read expert-contiguous rows", notFused[2]);
        Assert.StartsWith("  not fused: %out = combine into k3 — combine sums rows written by different experts", notFused[3]);
    }

    [Fact]
    public void Plan_to_string_is_the_printed_plan()
    {
        Assert.Equal(PlanPrinter.Print(GShard), GShard.ToString());
        Assert.Equal(11, TestSpecs.Lines(GShard.ToString()).Length);
    }
}
