using System;
using System.Linq;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>A declared layer trains: forward, backward, optimizer step, and its loss falls.</summary>
[Collection(NativeCollection.Name)]
public sealed class TrainingTests
{
    private readonly Session _session;

    public TrainingTests(NativeSession native) => _session = native.Session;

    [Fact]
    public void A_layer_learns_to_imitate_another()
    {
        // The student regresses the teacher's outputs (same declaration, other weights) with AdamW.
        const int tokens = 64;
        using var teacher = TopK2Gelu.Create(_session, seed: 1);
        using var student = TopK2Gelu.Create(_session, seed: 2);
        var x = Enumerable.Range(0, tokens * TopK2Gelu.Info.Dim).Select(i => MathF.Sin(i * 0.7f) * 1.5f).ToArray();
        using var input = _session.Upload(x, tokens, TopK2Gelu.Info.Dim);
        float[] target;
        using (var r = teacher.Forward(input))
        {
            target = r.Output.ToArray();
        }

        student.RequiresGrad = true;
        var optimizer = student.CreateOptimizer(new AdamW(lr: 3e-2f, weightDecay: 0f), new WarmupCosine(5, 60, 0.1), maxGradNorm: 1f);
        var losses = new float[60];
        for (var step = 0; step < losses.Length; step++)
        {
            using var r = student.Forward(input);
            var y = r.Output.ToArray();
            var diff = y.Select((v, i) => v - target[i]).ToArray();
            losses[step] = diff.Sum(d => d * d) / diff.Length;
            using var dOut = _session.Upload(diff.Select(d => 2 * d / diff.Length).ToArray(), tokens, TopK2Gelu.Info.Dim);
            using var dx = student.Backward(dOut);
            var stats = optimizer.Step();
            Assert.Equal(step + 1, stats.Step);
        }

        Assert.True(losses[^1] < 0.25f * losses[0], $"the loss went from {losses[0]} to {losses[^1]}");
    }

    [Fact]
    public void The_schedule_warms_up_linearly_then_decays_by_cosine_to_its_floor()
    {
        var s = new WarmupCosine(10, 110, minFactor: 0.1);
        Assert.Equal(0.1, s.Factor(1), 12);
        Assert.Equal(1.0, s.Factor(10), 12);
        Assert.Equal(0.55, s.Factor(60), 12);
        Assert.Equal(0.1, s.Factor(110), 12);
        Assert.Equal(0.1, s.Factor(500), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosine(10, 10));
    }

    [Fact]
    public void A_step_with_non_finite_gradients_leaves_the_weights_alone()
    {
        using var layer = TopK2Gelu.Create(_session, seed: 4);
        var before = layer.Weights["experts.w1"].Data.ToArray();
        layer.Gradients["experts.w2"].Data[3] = float.NaN;
        var optimizer = layer.CreateOptimizer(new Sgd(lr: 0.1f));
        var e = Assert.Throws<InvalidOperationException>(() => optimizer.Step());
        Assert.Contains("not finite", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, layer.Weights["experts.w1"].Data);
        layer.ZeroGradients();
    }
}
