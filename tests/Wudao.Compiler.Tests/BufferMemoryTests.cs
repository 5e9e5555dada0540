using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;
using Wudao.Compiler.Spec;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>Bytes per buffer at a token count: T bound to the count, S to the rows the launcher allocates.</summary>
public class BufferMemoryTests
{
    private static readonly KernelPlan GShard = MoeCompiler.Compile(TestSpecs.Make(RouterKind.GShard, dim: 512, experts: 16, hidden: 2048)).Plan;

    [Fact]
    public void Token_choice_bounds_S_by_tokens_times_choices()
    {
        var buffers = BufferMemory.Buffers(GShard, 64).ToDictionary(b => b.Value);

        // %rows: f32[S,512] with S ≤ 64 tokens × 2 choices.
        Assert.Equal(64L * 2 * 512, buffers["rows"].Elements);
        Assert.Equal(64L * 2 * 512 * 4, buffers["rows"].Bytes);
        Assert.Equal(64L * 16 * 4, buffers["probs"].Bytes);
        Assert.Equal(64L * 2 * 4, buffers["experts"].Bytes);
        Assert.Equal(16L * 4, buffers["kept"].Bytes);
        Assert.Equal(4L, buffers["dropped"].Bytes); // a scalar is one element
        Assert.Equal(GShard.Materialized.Select(m => m.Value), buffers.Keys);
    }

    [Fact]
    public void Expert_choice_bounds_S_by_experts_times_capacity()
    {
        var plan = MoeCompiler.Compile(TestSpecs.Make(RouterKind.ExpertChoice, experts: 8, topK: 0, capacityFactor: 2f, auxLossWeight: 0f)).Plan;

        // C = min(T, ceil(2·10/8)) = 3 rows for each of 8 experts.
        Assert.Equal(24L, BufferMemory.Bounds(plan, 10)["S"]);
        // With few tokens, an expert keeps at most every token: C = min(2, ceil(2·2/8)) = 1.
        Assert.Equal(8L, BufferMemory.Bounds(plan, 2)["S"]);
    }

    [Fact]
    public void Shared_experts_add_a_row_per_token()
    {
        var plan = MoeCompiler.Compile(TestSpecs.Make(RouterKind.DeepSeek, auxLossWeight: 0f, experts: 5) with { SharedExperts = 1 }).Plan;

        Assert.Equal(10L * 3, BufferMemory.Bounds(plan, 10)["S"]);
    }

    [Fact]
    public void Weights_have_constant_sizes_named_as_in_weight_files()
    {
        var weights = BufferMemory.Weights(GShard).ToDictionary(w => w.Value);

        Assert.Equal(512L * 16 * 4, weights["gate.weight"].Bytes);
        Assert.Equal(16L * 512 * 2048 * 4, weights["experts.w1"].Bytes);
        Assert.All(weights.Values, w => Assert.Equal(-1, w.Kernel));
    }

    [Fact]
    public void A_symbol_without_a_bound_is_an_error()
    {
        var type = TensorType.F32(Dim.Sym("Q"), 4);

        Assert.Equal(12L, BufferMemory.Elements(type, new System.Collections.Generic.Dictionary<string, long> { ["Q"] = 3 }));
        var e = Assert.Throws<CompileException>(() => BufferMemory.Elements(type, new System.Collections.Generic.Dictionary<string, long>()));
        Assert.Contains("no bound for dimension Q", e.Message, System.StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DType.F32, 4)]
    [InlineData(DType.I32, 4)]
    [InlineData(DType.BF16, 2)]
    [InlineData(DType.F16, 2)]
    [InlineData(DType.I8, 1)]
    public void Dtype_sizes(DType type, int bytes) => Assert.Equal(bytes, type.Size());
}
