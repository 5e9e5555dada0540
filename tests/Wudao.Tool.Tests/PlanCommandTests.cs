using System.Globalization;
using System.Linq;
using Xunit;

namespace Wudao.Tool.Tests;

/// <summary><c>wudao plan</c> on the examples, on bad declarations, and on inputs it cannot use.</summary>
public class PlanCommandTests
{
    private static readonly string QuickStart = Repo.Path("examples", "QuickStart", "QuickStart.csproj");

    [Fact]
    public void QuickStart_prints_graph_kernels_refused_fusions_dtypes_and_bytes()
    {
        var run = ToolRun.Of("plan", QuickStart);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Error);
        Assert.StartsWith("MoeLayer QuickStart.MyMoe\n", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("graph MyMoe(%x: f32[T,512])", run.Out, System.StringComparison.Ordinal);
        Assert.Matches(@"k0 gate +\[matmul, softmax, topk, renorm, second_drop\]", run.Out);
        Assert.Matches(@"k3 expert_ffn \[grouped_matmul, bias, gelu, grouped_matmul, bias\]", run.Out);
        Assert.Contains("not fused: %out = combine into k3 — combine sums rows written by different experts' tiles", run.Out, System.StringComparison.Ordinal);

        // %rows: f32[S,512] with S ≤ 64 tokens × top-2 = 128 rows of 512 floats.
        var rows = Row(run.Out, "%rows");
        Assert.Equal(new[] { "%rows", "f32", "[S,512]", Grouped(128 * 512), Grouped(128 * 512 * 4) }, rows.Take(5));
        Assert.Equal(new[] { "%experts", "i32", "[T,2]", Grouped(64 * 2), Grouped(64 * 2 * 4) }, Row(run.Out, "%experts").Take(5));
        // experts.w1: 16 experts × 512 × 2048 floats.
        Assert.Equal(new[] { "experts.w1", "%w1", "f32", "[16,512,2048]", Grouped(16 * 512 * 2048), Grouped(16L * 512 * 2048 * 4) }, Row(run.Out, "experts.w1").Take(6));
    }

    [Fact]
    public void Train_adds_the_derived_backward()
    {
        var layer = ToolRun.Of("plan", QuickStart, "--train");
        var model = ToolRun.Of("plan", Repo.Path("examples", "TinyMoeLm"), "--train");

        Assert.True(layer.ExitCode == 0, layer.ToString());
        Assert.Contains("train plan\n  backward MyMoe: seeds %d_out: f32[T,512], %d_aux: f32[]", layer.Out, System.StringComparison.Ordinal);
        Assert.Contains("    %d_hb = gelu_grad %hb, %d_a : f32[S,2048]", layer.Out, System.StringComparison.Ordinal);
        Assert.DoesNotContain("backward MyMoe", ToolRun.Of("plan", QuickStart).Out, System.StringComparison.Ordinal);
        Assert.True(model.ExitCode == 0, model.ToString());
        Assert.Contains("train plan of the model\n  backward TinyMoeLm: seeds %d_loss: f32[]", model.Out, System.StringComparison.Ordinal);
        Assert.Contains("moe_grad %l1_y", model.Out, System.StringComparison.Ordinal);
        Assert.Contains("backward TinyMoeLmMoe: seeds", model.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Tokens_sets_T_and_bounds_S()
    {
        var run = ToolRun.Of("plan", QuickStart, "--tokens", "10");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("buffers at T = 10 tokens, S ≤ 20 expert rows", run.Out, System.StringComparison.Ordinal);
        Assert.Equal(Grouped(20 * 512 * 4), Row(run.Out, "%rows")[4]);
    }

    [Fact]
    public void A_model_prints_its_plan_and_its_MoE_layer()
    {
        var run = ToolRun.Of("plan", Repo.Path("examples", "TinyMoeLm"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("MoeTransformer TinyMoeLmExample.TinyMoeLm\n", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("plan TinyMoeLm (27 kernels", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("not fused: %l1_f = moe into k10 — the MoE feed-forward is a layer with its own plan", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("MoeFeedForward of TinyMoeLm TinyMoeLmExample.TinyMoeLmMoe", run.Out, System.StringComparison.Ordinal);
        Assert.Contains("weights of each MoE block, named under layers.1.moe., layers.3.moe.", run.Out, System.StringComparison.Ordinal);
        // The LM head's logits: 64 tokens × 4096 vocab floats.
        Assert.Equal(new[] { "%logits", "f32", "[T,4096]", Grouped(64 * 4096), Grouped(64 * 4096 * 4) }, Row(run.Out, "%logits").Take(5));
    }

    [Fact]
    public void Class_selects_one_declaration_and_a_model_MoE_layer_by_its_generated_name()
    {
        var routing = ToolRun.Of("plan", Repo.Path("examples", "Routing"), "--class", "ExpertChoiceMoe");
        Assert.True(routing.ExitCode == 0, routing.ToString());
        Assert.StartsWith("MoeLayer Routing.ExpertChoiceMoe\n", routing.Out, System.StringComparison.Ordinal);
        Assert.DoesNotContain("Routing.TopKMoe", routing.Out, System.StringComparison.Ordinal);

        var moe = ToolRun.Of("plan", Repo.Path("examples", "TinyMoeLm"), "-c", "TinyMoeLmMoe");
        Assert.True(moe.ExitCode == 0, moe.ToString());
        Assert.StartsWith("MoeFeedForward of TinyMoeLm TinyMoeLmExample.TinyMoeLmMoe\n", moe.Out, System.StringComparison.Ordinal);
        Assert.DoesNotContain("plan TinyMoeLm (", moe.Out, System.StringComparison.Ordinal);

        var missing = ToolRun.Of("plan", Repo.Path("examples", "TinyMoeLm"), "--class", "Nope");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("no declaration named 'Nope' (declared: TinyMoeLmExample.TinyMoeLm)", missing.Error, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_declaration_reports_its_WD_diagnostic_at_file_and_line_and_exits_1()
    {
        using var temp = new TempFolder();
        var file = temp.Write("Bad.cs", """
            using Wudao;

            namespace N;

            [MoeLayer(Dim = 64, Experts = 0, TopK = 2, Hidden = 128)]
            public partial class Bad
            {
            }

            [MoeLayer(Dim = 64, Experts = 4, TopK = 1, Hidden = 128)]
            [Router(RouterKind.Switch)]
            public partial class Good
            {
            }
            """);

        var run = ToolRun.Of("plan", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Matches(@"Bad\.cs:5:\d+: error WD0002: .*Experts", run.Error);
        // The valid declaration beside it is still planned.
        Assert.Contains("MoeLayer N.Good", run.Out, System.StringComparison.Ordinal);
        Assert.DoesNotContain("MoeLayer N.Bad", run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_class_that_is_not_partial_is_WD0001()
    {
        using var temp = new TempFolder();
        temp.Write("src/Layer.cs", "using Wudao;\nnamespace N;\n[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]\npublic class Whole { }\n");
        // Build output is not source: a stale copy under obj/ must not be read.
        temp.Write("obj/Stale.cs", "this is not C#");

        var run = ToolRun.Of("plan", temp.FullName);

        Assert.Equal(1, run.ExitCode);
        Assert.Matches(@"Layer\.cs:4:14: error WD0001: 'Whole' must be declared partial", run.Error);
        Assert.Contains("no valid declaration: fix the 1 error(s) above", run.Error, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Project_implicit_usings_are_applied()
    {
        using var temp = new TempFolder();
        var project = temp.Write("App.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"><ItemGroup><Using Include=\"Wudao\" /></ItemGroup></Project>");
        temp.Write("Layer.cs", "namespace N;\n[MoeLayer(Dim = 64, Experts = 4, TopK = 2, Hidden = 128)]\npublic partial class Implicit { }\n");

        var run = ToolRun.Of("plan", project);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("MoeLayer N.Implicit\n", run.Out, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_path_is_named_and_exits_2()
    {
        var run = ToolRun.Of("plan", "no/such/project.csproj");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("wudao: no such file or folder: no/such/project.csproj\n", run.Error);
        Assert.Equal("", run.Out);
    }

    [Fact]
    public void Sources_without_declarations_say_so()
    {
        using var temp = new TempFolder();
        temp.Write("Plain.cs", "namespace N; public class Plain { }\n");

        var run = ToolRun.Of("plan", temp.FullName);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("no [MoeLayer], [MoeTransformer] or [AttentionKernel] class in", run.Error, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_config_json_is_not_supported_yet()
    {
        using var temp = new TempFolder();
        var config = temp.Write("config.json", "{\"model_type\": \"mixtral\"}");

        var file = ToolRun.Of("plan", config);
        Assert.Equal(2, file.ExitCode);
        Assert.Contains("Hugging Face config.json declarations are not supported yet", file.Error, System.StringComparison.Ordinal);

        // A checkpoint folder (config.json, no C#) gets the same answer.
        var folder = ToolRun.Of("plan", temp.FullName);
        Assert.Equal(2, folder.ExitCode);
        Assert.Contains("no C# files found; it holds a config.json — Hugging Face config.json declarations are not supported yet", folder.Error, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_token_count_is_a_usage_error()
    {
        var run = ToolRun.Of("plan", QuickStart, "--tokens", "-1");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--tokens must be 0 or more", run.Error, System.StringComparison.Ordinal);
    }

    [Fact]
    public void An_attention_kernel_is_listed_without_a_graph()
    {
        using var temp = new TempFolder();
        var file = temp.Write("Attn.cs", "using Wudao;\nnamespace N;\n[AttentionKernel(HeadDim = 64)]\npublic static partial class Attn { }\n");

        var run = ToolRun.Of("plan", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("AttentionKernel N.Attn\n  head dim 64, static class\n  one fused attention op (native and ILGPU kernels): no graph to plan or fuse\n", run.Out);
    }

    /// <summary>The cells of the first table row whose first cell is <paramref name="first"/>, a byte count without its unit.</summary>
    private static string[] Row(string output, string first) =>
        output.Split('\n').Select(l => l.Trim()).Select(l => System.Text.RegularExpressions.Regex.Split(l, " {2,}"))
            .First(cells => cells[0] == first)
            .Select(c => c.Split(" (")[0]).ToArray();

    private static string Grouped(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
