namespace Wudao.Compiler.Codegen;

/// <summary>
/// The optimizer update rules every trainable layer and model carries (AdamW, SGD with momentum,
/// the squared norm clipping reads): elementwise kernels over a weight, vectorised with
/// <c>Vector&lt;float&gt;</c>, in torch.optim's order of operations so the updates agree with it.
/// </summary>
public static class OptimizerEmitter
{
    public static void Emit(SourceWriter w) => w.Lines(Source);

    private const string V = "global::System.Numerics.Vector";

    private static readonly string Source = $@"/// <summary>The optimizer's kernels (AdamW, SGD, the gradient norm), compiled with this class.</summary>
private sealed class OptimizerKernelSet : global::Wudao.IOptimizerKernels
{{
    public static readonly OptimizerKernelSet Instance = new OptimizerKernelSet();

    public double SumOfSquares(global::System.ReadOnlySpan<float> g)
    {{
        // Vectorised in float over blocks of 4096, the blocks summed in double in order: deterministic, and exact enough for a norm.
        double sum = 0;
        for (int i = 0; i < g.Length; i += 4096)
        {{
            sum += global::System.Numerics.Tensors.TensorPrimitives.SumOfSquares(g.Slice(i, global::System.Math.Min(4096, g.Length - i)));
        }}

        return sum;
    }}

    public void AdamW(global::System.Span<float> w, global::System.ReadOnlySpan<float> g, global::System.Span<float> m, global::System.Span<float> v, in global::Wudao.AdamWStep s)
    {{
        // w ← w·(1 − lr·λ); m ← m + (1 − β1)(g − m); v ← β2·v + (1 − β2)·g²; w ← w − step·m / (√v / √(1 − β2^t) + ε).
        float a1 = 1f - s.Beta1, a2 = 1f - s.Beta2;
        int i = 0;
        int lanes = {V}<float>.Count;
        var decay = new {V}<float>(s.Decay);
        var scale = new {V}<float>(s.GradScale);
        var va1 = new {V}<float>(a1);
        var vb2 = new {V}<float>(s.Beta2);
        var va2 = new {V}<float>(a2);
        var eps = new {V}<float>(s.Eps);
        var bc2 = new {V}<float>(s.BiasCorrection2Sqrt);
        var step = new {V}<float>(s.StepSize);
        for (; i + lanes <= w.Length; i += lanes)
        {{
            var gi = new {V}<float>(g.Slice(i)) * scale;
            var mi = new {V}<float>(m.Slice(i));
            var vi = new {V}<float>(v.Slice(i));
            mi += (gi - mi) * va1;
            vi = (vi * vb2) + ((gi * gi) * va2);
            var denom = ({V}.SquareRoot(vi) / bc2) + eps;
            var wi = (new {V}<float>(w.Slice(i)) * decay) - (step * (mi / denom));
            mi.CopyTo(m.Slice(i));
            vi.CopyTo(v.Slice(i));
            wi.CopyTo(w.Slice(i));
        }}

        for (; i < w.Length; i++)
        {{
            float gi = g[i] * s.GradScale;
            m[i] += (gi - m[i]) * a1;
            v[i] = (v[i] * s.Beta2) + ((gi * gi) * a2);
            float denom = (global::System.MathF.Sqrt(v[i]) / s.BiasCorrection2Sqrt) + s.Eps;
            w[i] = (w[i] * s.Decay) - (s.StepSize * (m[i] / denom));
        }}
    }}

    public void Sgd(global::System.Span<float> w, global::System.ReadOnlySpan<float> g, global::System.Span<float> buffer, in global::Wudao.SgdStep s)
    {{
        // d = g + λ·w; with momentum, b ← μ·b + d (b = d on the first step) and d = b; w ← w − lr·d.
        bool momentum = buffer.Length > 0;
        for (int i = 0; i < w.Length; i++)
        {{
            float d = (g[i] * s.GradScale) + (s.WeightDecay * w[i]);
            if (momentum)
            {{
                buffer[i] = s.FirstStep ? d : (s.Momentum * buffer[i]) + d;
                d = buffer[i];
            }}

            w[i] -= s.LearningRate * d;
        }}
    }}
}}
";
}
