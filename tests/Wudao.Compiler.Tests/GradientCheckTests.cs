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
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void Every_gradient_of_a_layer_matches_finite_differences(RouterKind router, ActivationKind activation, float capacity, int tokens)
    {
        var spec = TestSpecs.Make(router, activation, dim: 4, experts: 4, hidden: 3, capacityFactor: capacity);
        var forward = MoeLowering.Lower(spec);
        ShapeInference.Run(forward);
        var backward = Autodiff.Run(forward);
        var rng = new Random(tokens * 31 + (int)router);
        var inputs = new Dictionary<string, Value> { ["x"] = Random(rng, tokens, spec.Dim) };
        var weights = forward.Nodes.Where(n => n.Op == Ops.Param)
            .ToDictionary(n => n.Results[0], n => Random(rng, n.Types[0]!.Shape.Select(d => d.Value).ToArray()));
        var seeds = new Dictionary<string, Value>
        {
            ["d_out"] = Random(rng, tokens, spec.Dim),
            ["d_aux"] = new Value(new[] { 0.7 }, Array.Empty<int>()),
        };

        // L = Σ out·d_out + d_aux·aux: its gradient is what the backward computes from these seeds.
        double Loss(IReadOnlyDictionary<string, Value> x, IReadOnlyDictionary<string, Value> w)
        {
            var env = IrInterpreter.Run(forward, x, w);
            return env["out"].Data.Zip(seeds["d_out"].Data, (a, b) => a * b).Sum()
                + (backward.Seeds.Contains("d_aux") ? env["aux"].Data[0] * seeds["d_aux"].Data[0] : 0);
        }

        var saved = IrInterpreter.Run(forward, inputs, weights);
        var backwardInputs = backward.Graph.Inputs.ToDictionary(i => i.Key, i => seeds.TryGetValue(i.Key, out var s) ? s : saved[i.Key]);
        var result = IrInterpreter.Run(backward.Graph, backwardInputs, weights);
        Assert.True(saved["kept"].Data.Sum() > 0, "no row reached an expert: the check would prove nothing");
        if (capacity is > 0f and < 1f && tokens > 1)
        {
            Assert.True(saved["dropped"].Data[0] > 0, "the capacity drops no choice: the dropped path goes unchecked");
        }

        foreach (var (value, gradient) in backward.Gradients)
        {
            var isInput = inputs.ContainsKey(value);
            var target = isInput ? inputs[value] : weights[value];
            var analytic = result[gradient].Data;
            for (var i = 0; i < target.Data.Length; i++)
            {
                const double eps = 1e-6;
                var keep = target.Data[i];
                target.Data[i] = keep + eps;
                var up = Loss(inputs, weights);
                target.Data[i] = keep - eps;
                var down = Loss(inputs, weights);
                target.Data[i] = keep;
                var numeric = (up - down) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-6 + (1e-5 * Math.Abs(numeric)), $"{router}/{activation}: d{value}[{i}] = {analytic[i]}, finite differences give {numeric}");
            }
        }

        Assert.Equal(router == RouterKind.DeepSeek ? new[] { "bias" } : Array.Empty<string>(), backward.NoGradient);
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
