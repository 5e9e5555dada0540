using System;
using System.Linq;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// A declared layer's Backward on the native target against central finite differences of its
/// own Forward (L = Σ out·dOut + aux), in fp32, with loose tolerances: an independent check of the
/// wiring (tape, seeds, every gradient bound to the right weight). The tight check against
/// libtorch autograd is in the oracle tests.
/// </summary>
[Collection(NativeCollection.Name)]
public sealed class BackwardTests
{
    private readonly Session _session;

    public BackwardTests(NativeSession native) => _session = native.Session;

    [Theory]
    [InlineData(nameof(TopK2Gelu), 7)]
    [InlineData(nameof(GShardSilu), 9)]
    [InlineData(nameof(TopK3SwiGlu), 5)]
    [InlineData(nameof(SwitchRelu), 6)]
    public void Backward_matches_finite_differences_of_forward(string name, int tokens)
    {
        var (_, info, create) = Layers.All[name];
        var layer = (dynamic)create(_session, 3);
        var x = Enumerable.Range(0, tokens * info.Dim).Select(i => MathF.Sin((i * 0.37f) + 0.1f)).ToArray();
        var dOut = Enumerable.Range(0, tokens * info.Dim).Select(i => MathF.Cos(i * 0.21f)).ToArray();

        layer.RequiresGrad = true;
        layer.Step = 0;
        using var input = _session.Upload(x, tokens, info.Dim);
        using (MoeResult r = layer.Forward(input))
        {
        }

        using var dOutput = _session.Upload(dOut, tokens, info.Dim);
        using DeviceTensor dx = layer.Backward(dOutput);
        var analytic = dx.ToArray();
        layer.RequiresGrad = false;

        float Loss(float[] xs)
        {
            layer.Step = 0;
            using var xi = _session.Upload(xs, tokens, info.Dim);
            using MoeResult r = layer.Forward(xi);
            var o = r.Output.ToArray();
            return o.Select((v, i) => v * dOut[i]).Sum() + r.Stats.AuxLoss;
        }

        const float h = 1e-2f;
        for (var i = 0; i < x.Length; i += 3)
        {
            var plus = (float[])x.Clone();
            var minus = (float[])x.Clone();
            plus[i] += h;
            minus[i] -= h;
            var numeric = (Loss(plus) - Loss(minus)) / (2 * h);
            Assert.True(MathF.Abs(numeric - analytic[i]) <= 2e-2f * MathF.Max(1f, MathF.Abs(numeric)), $"{name}: dL/dx[{i}] = {analytic[i]} by backward, {numeric} by finite differences");
        }

        MoeWeights weights = layer.Weights;
        MoeWeights gradients = layer.Gradients;
        foreach (var w in info.Weights)
        {
            var data = weights[w.Name].Data;
            var grad = gradients[w.Name].Data;
            for (var i = 0; i < data.Length; i += Math.Max(1, data.Length / 7))
            {
                var keep = data[i];
                data[i] = keep + h;
                var up = Loss2(layer, x, dOut, tokens, info);
                data[i] = keep - h;
                var down = Loss2(layer, x, dOut, tokens, info);
                data[i] = keep;
                var numeric = (up - down) / (2 * h);
                Assert.True(MathF.Abs(numeric - grad[i]) <= 2e-2f * MathF.Max(1f, MathF.Abs(numeric)), $"{name}: dL/d{w.Name}[{i}] = {grad[i]} by backward, {numeric} by finite differences");
            }
        }
    }

    /// <summary>The loss with the host weights as they are now (a fresh layer, since the running one packed its weights at creation).</summary>
    private float Loss2(dynamic layer, float[] x, float[] dOut, int tokens, MoeLayerInfo info)
    {
        var (type, _, _) = Layers.All[info.Name];
        var create = type.GetMethod("Create", new[] { typeof(Session), typeof(MoeWeights), typeof(ulong) })!;
        using var fresh = (IMoeLayer)create.Invoke(null, new object[] { _session, layer.Weights, 3UL })!;
        using var xi = _session.Upload(x, tokens, info.Dim);
        using var r = fresh.Forward(xi);
        var o = r.Output.ToArray();
        return o.Select((v, i) => v * dOut[i]).Sum() + r.Stats.AuxLoss;
    }
}
