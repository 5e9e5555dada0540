using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Wudao.Oracle.Tests;

/// <summary>
/// The generated optimizer kernels against torch.optim on the same weights and gradients: three
/// AdamW steps, SGD with momentum, and steps clipped by torch.nn.utils.clip_grad_norm_; frozen
/// weights never change. The gradients are a generated layer's own (one Backward), fed to both
/// sides unchanged at every step, so only the update rules are compared.
/// </summary>
[Collection(OracleCollection.Name)]
public sealed class OptimizerOracleTests
{
    private readonly OracleSessions _sessions;

    public OptimizerOracleTests(OracleSessions sessions) => _sessions = sessions;

    public static TheoryData<string, float> Cases() => new()
    {
        { "adamw", 0f },
        { "adamw", 0.05f },
        { "sgd", 0f },
        { "sgd", 0.05f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Three_steps_equal_torch_optim(string kind, float maxGradNorm)
    {
        var (info, seed, create) = OracleLayers.All[nameof(OracleGShardGelu)];
        using var moe = create(_sessions.Native, MoeWeights.Random(info, seed), seed);
        var gradients = Gradients(moe, seed);
        var before = Copy(moe.Weights);
        Optimizer optimizer = kind == "adamw" ? new AdamW(lr: 1e-2f, weightDecay: 0.1f) : new Sgd(lr: 0.05f, momentum: 0.9f, weightDecay: 0.01f);
        var frozen = new[] { "experts.b2" };
        var wudao = moe.CreateOptimizer(optimizer, maxGradNorm: maxGradNorm, frozen: frozen);
        var stats = new List<OptimizerStepStats>();
        for (var step = 0; step < 3; step++)
        {
            foreach (var (name, g) in gradients)
            {
                g.CopyTo(moe.Gradients[name].Data, 0);
            }

            stats.Add(wudao.Step());
        }

        var torchWeights = TorchSteps(before, gradients, optimizer, maxGradNorm, frozen, out var norms);
        foreach (var name in before.Keys)
        {
            var expected = torchWeights[name];
            var actual = moe.Weights[name].Data;
            if (frozen.Contains(name))
            {
                Assert.True(actual.SequenceEqual(before[name]), $"{name} is frozen but changed");
                continue;
            }

            Assert.False(actual.SequenceEqual(before[name]), $"{name} did not change");
            for (var i = 0; i < actual.Length; i++)
            {
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6f * Math.Max(1f, Math.Abs(expected[i])), $"{kind} clip {maxGradNorm}: {name}[{i}] = {actual[i]}, torch {expected[i]}");
            }
        }

        for (var s = 0; s < 3; s++)
        {
            Assert.True(Math.Abs(stats[s].GradientNorm - norms[s]) <= 1e-5 * norms[s], $"step {s + 1}: gradient norm {stats[s].GradientNorm}, torch {norms[s]}");
            Assert.Equal(maxGradNorm > 0, stats[s].Clipped);
        }

        Assert.All(moe.Gradients.Names, n => Assert.All(moe.Gradients[n].Data, g => Assert.Equal(0f, g)));
    }

    [Fact]
    public void Freezing_an_unknown_weight_is_refused_by_name()
    {
        var (info, seed, create) = OracleLayers.All[nameof(OracleTopK1Gelu)];
        using var moe = create(_sessions.Native, MoeWeights.Random(info, seed), seed);
        var e = Assert.Throws<ArgumentException>(() => moe.CreateOptimizer(new AdamW(), frozen: new[] { "experts.w3" }));
        Assert.Contains("experts.w3", e.Message, StringComparison.Ordinal);
        Assert.Contains("experts.w1", e.Message, StringComparison.Ordinal);
    }

    private Dictionary<string, float[]> Gradients(IMoeLayer moe, ulong seed)
    {
        var info = moe.Info;
        const int tokens = 64;
        var x = OracleInputs.WithoutTies(info, moe.Weights, tokens, seed: 3, new CounterSeed(seed), step: 0);
        moe.RequiresGrad = true;
        using var input = _sessions.Native.Upload(x, tokens, info.Dim);
        using var result = moe.Forward(input);
        var dOut = Enumerable.Range(0, tokens * info.Dim).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        using var d = _sessions.Native.Upload(dOut, tokens, info.Dim);
        using var dx = moe.Backward(d);
        return moe.Gradients.Names.ToDictionary(n => n, n => (float[])moe.Gradients[n].Data.Clone());
    }

    private static Dictionary<string, float[]> Copy(MoeWeights w) => w.Names.ToDictionary(n => n, n => (float[])w[n].Data.Clone());

    /// <summary>The same three steps with torch.optim: each step's gradient is set by backpropagating Σ p·g.</summary>
    private static Dictionary<string, float[]> TorchSteps(Dictionary<string, float[]> weights, Dictionary<string, float[]> gradients, Optimizer optimizer, float maxGradNorm, string[] frozen, out double[] norms)
    {
        TorchMoe.Initialise();
        using var scope = torch.NewDisposeScope();
        var names = weights.Keys.Where(n => !frozen.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        var parameters = names.Select(n => new TorchSharp.Modules.Parameter(torch.tensor(weights[n]), requires_grad: true)).ToList();
        var grads = names.Select(n => torch.tensor(gradients[n])).ToList();
        torch.optim.Optimizer opt = optimizer switch
        {
            AdamW a => torch.optim.AdamW(parameters, a.LearningRate, a.Beta1, a.Beta2, a.Eps, a.WeightDecay),
            Sgd s => torch.optim.SGD(parameters, s.LearningRate, s.Momentum, weight_decay: s.WeightDecay),
            _ => throw new NotSupportedException(),
        };
        norms = new double[3];
        for (var step = 0; step < 3; step++)
        {
            opt.zero_grad();
            var loss = parameters.Zip(grads, (p, g) => (p * g).sum()).Aggregate((a, b) => a + b);
            loss.backward();
            norms[step] = Math.Sqrt(parameters.Sum(p => p.grad!.to(ScalarType.Float64).pow(2).sum().item<double>()));
            if (maxGradNorm > 0)
            {
                torch.nn.utils.clip_grad_norm_(parameters, maxGradNorm);
            }

            opt.step();
        }

        var result = weights.ToDictionary(kv => kv.Key, kv => kv.Value);
        for (var i = 0; i < names.Count; i++)
        {
            result[names[i]] = parameters[i].detach().data<float>().ToArray();
        }

        return result;
    }
}
