using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Lowering;
using Wudao.Compiler.Passes;
using Wudao.Compiler.Spec;
using Wudao.Compiler.Tests.Reference;
using Xunit;

namespace Wudao.Compiler.Tests;

/// <summary>
/// The derived backward graphs, run by the IR interpreter in double, against central finite
/// differences of the interpreted forward: every gradient rule and backward op's meaning, for
/// every differentiable router and activation, with and without dropped tokens.
/// </summary>
public class GradientCheckTests
{
    public static TheoryData<RouterKind, ActivationKind, float, int> Layers => new()
    {
        { RouterKind.TopK, ActivationKind.Gelu, 0f, 7 },
        { RouterKind.TopK, ActivationKind.SwiGlu, 0.5f, 7 },
        { RouterKind.Switch, ActivationKind.Silu, 0.75f, 9 },
        { RouterKind.GShard, ActivationKind.GeGlu, 1.25f, 8 },
        { RouterKind.GShard, ActivationKind.Relu, 0.5f, 6 },
        { RouterKind.DeepSeek, ActivationKind.SwiGlu, 0f, 7 },
        { RouterKind.DeepSeek, ActivationKind.Gelu, 0.5f, 5 },
        { RouterKind.TopK, ActivationKind.Silu, 1f, 1 },
        { RouterKind.NoisyTopK, ActivationKind.Gelu, 0f, 7 },
        { RouterKind.NoisyTopK, ActivationKind.SwiGlu, 0.5f, 9 },
        { RouterKind.ExpertChoice, ActivationKind.Silu, 1f, 8 },
        { RouterKind.ExpertChoice, ActivationKind.GeGlu, 0.5f, 6 },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void Every_gradient_of_a_layer_matches_finite_differences(RouterKind router, ActivationKind activation, float capacity, int tokens)
    {
        // Every optional loss and noise on: noisy top-k's importance and load losses, the z-loss and Switch-style jitter of the softmax routers.
        var spec = TestSpecs.Make(router, activation, dim: 4, experts: 4, topK: router == RouterKind.ExpertChoice ? 0 : null, hidden: 3, capacityFactor: capacity) with
        {
            ImportanceWeight = router == RouterKind.NoisyTopK ? 0.3f : 0f,
            LoadWeight = router == RouterKind.NoisyTopK ? 0.2f : 0f,
            ZLossWeight = router is RouterKind.TopK or RouterKind.Switch or RouterKind.GShard ? 0.1f : 0f,
            Jitter = router is RouterKind.Switch ? 0.05f : 0f,
        };
        var rng = new Random((tokens * 31) + (int)router);
        var (backward, saved) = Check(MoeLowering.Lower(spec), rng, new Dictionary<string, Value> { ["x"] = Random(rng, tokens, spec.Dim) });

        Assert.True(saved["kept"].Data.Sum() > 0, "no row reached an expert: the check would prove nothing");
        if (capacity is > 0f and < 1f && tokens > 1 && router != RouterKind.ExpertChoice)
        {
            Assert.True(saved["dropped"].Data[0] > 0, "the capacity drops no choice: the dropped path goes unchecked");
        }

        Assert.Equal(router == RouterKind.DeepSeek ? new[] { "bias" } : Array.Empty<string>(), backward.NoGradient);
    }

    public static TheoryData<NormKind, bool, bool, bool, ActivationKind> Models => new()
    {
        { NormKind.RmsNorm, true, true, false, ActivationKind.SwiGlu },
        { NormKind.LayerNorm, true, false, false, ActivationKind.Gelu },
        { NormKind.RmsNorm, false, true, true, ActivationKind.Silu },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Every_gradient_of_a_dense_model_s_next_token_loss_matches_finite_differences(NormKind norm, bool causal, bool rope, bool qkNorm, ActivationKind activation)
    {
        // Two blocks with no MoE block (every = 3): embedding, norms, attention (GQA: 4 heads on 2 kv heads), the MLPs, the LM head, the loss.
        var moe = TestSpecs.Make(RouterKind.TopK, activation, dim: 32, experts: 4, hidden: 5) with { ClassName = "LmMoe" };
        var spec = new ModelSpec("N", "Lm", "public", 7, 32, 2, 16, norm, 1e-5f, 4, 2, causal, rope ? PositionKind.Rope : PositionKind.None, 100f, moe, 3, 5) { QkNorm = qkNorm };
        var rng = new Random(5);
        var ids = new Value(new double[] { 3, 0, 6, 3, 1 }, new[] { 5 });
        var targets = new Value(new double[] { 0, 6, 3, 1, 2 }, new[] { 5 });
        var (backward, _) = Check(ModelLowering.Training(ModelLowering.Lower(spec)), rng, new Dictionary<string, Value> { ["ids"] = ids, ["targets"] = targets });

        Assert.Equal(new[] { "d_loss" }, backward.Seeds);
        Assert.Empty(backward.NoGradient);
        Assert.Contains(backward.Graph.Nodes, n => n.Op == Ops.AttentionGrad);
    }

    [Fact]
    public void Attention_outside_a_training_graph_recomputes_its_lse_and_matches_finite_differences()
    {
        var rng = new Random(11);
        var (backward, _) = Check(IrParser.Parse(
            "graph g(%x: f32[T,8]) -> (%y)\n" +
            "  %w = param {name=w, fan_in=8} : f32[8,32]\n" +
            "  %qkv = linear %x, %w\n" +
            "  %y = attention %qkv {heads=2, kv_heads=1, head_dim=8, causal=1, rope=1, rope_base=100}\n"), rng, new Dictionary<string, Value> { ["x"] = Random(rng, 4, 8) });

        Assert.Contains(backward.Graph.Nodes, n => n.Op == Ops.AttentionLse);
    }

    /// <summary>
    /// Runs the forward and its derived backward in the interpreter with random weights and seeds,
    /// and checks every element of every gradient against central differences of
    /// L = Σ_outputs ⟨output, seed⟩.
    /// </summary>
    private static (BackwardGraph Backward, Dictionary<string, Value> Saved) Check(Graph forward, Random rng, Dictionary<string, Value> inputs)
    {
        ShapeInference.Run(forward);
        var backward = Autodiff.Run(forward);
        var weights = forward.Nodes.Where(n => n.Op == Ops.Param)
            .ToDictionary(n => n.Results[0], n => Random(rng, n.Types[0]!.Shape.Select(d => d.Value).ToArray()));
        var probe = IrInterpreter.Run(forward, inputs, weights);
        var seeds = backward.Seeds.ToDictionary(s => s, s => Random(rng, probe[s.Substring(2)].Shape));

        double Loss()
        {
            var env = IrInterpreter.Run(forward, inputs, weights);
            return seeds.Sum(s => env[s.Key.Substring(2)].Data.Zip(s.Value.Data, (a, b) => a * b).Sum());
        }

        var backwardInputs = backward.Graph.Inputs.ToDictionary(i => i.Key, i => seeds.TryGetValue(i.Key, out var s) ? s : probe[i.Key]);
        var result = IrInterpreter.Run(backward.Graph, backwardInputs, weights);
        Assert.NotEmpty(backward.Gradients);
        foreach (var (value, gradient) in backward.Gradients)
        {
            var target = inputs.TryGetValue(value, out var input) ? input : weights[value];
            var analytic = result[gradient].Data;
            for (var i = 0; i < target.Data.Length; i++)
            {
                const double eps = 1e-6;
                var keep = target.Data[i];
                target.Data[i] = keep + eps;
                var up = Loss();
                target.Data[i] = keep - eps;
                var down = Loss();
                target.Data[i] = keep;
                var numeric = (up - down) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-6 + (1e-5 * Math.Abs(numeric)), $"{forward.Name}: d{value}[{i}] = {analytic[i]}, finite differences give {numeric}");
            }
        }

        return (backward, probe);
    }

    private static Value Random(Random rng, params int[] shape)
    {
        var v = Value.Of(shape);
        for (var i = 0; i < v.Data.Length; i++)
        {
            v.Data[i] = (rng.NextDouble() * 2) - 1;
        }

        return v;
    }
}
