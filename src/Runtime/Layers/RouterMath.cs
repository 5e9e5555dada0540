using System;
using ILGPU;
using ILGPU.Algorithms;

namespace Wudao;

/// <summary>
/// Scalar functions the routers' and experts' kernels share on every target. XMath, so the same code runs in
/// ILGPU kernels (mapped to device intrinsics) and on the native CPU target.
/// </summary>
public static class RouterMath
{
    /// <summary>
    /// log(1 + e^x) without overflow; below −15 it is e^x to float precision, floored at 1e-30 (a
    /// normal float, so flush-to-zero devices keep it): noisy top-k divides by it, and 0/0 would be NaN.
    /// </summary>
    public static float Softplus(float x) =>
        x < -15f ? XMath.Max(XMath.Exp(x), 1e-30f) : (x > 0f ? x : 0f) + XMath.Log(1f + XMath.Exp(-(x < 0f ? -x : x)));

    public static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    /// <summary>Standard normal CDF Φ(z) = (1 + erf(z/√2)) / 2.</summary>
    public static float Phi(float z) => 0.5f * (1f + Erf(z * 0.70710677f));

    /// <summary>
    /// CV² = unbiased variance / (mean² + 1e-10), as noisy top-k's importance and load losses
    /// define it (torch's var divides by n − 1); 0 for fewer than two experts. For kernels.
    /// </summary>
    public static float CvSquared(ArrayView<float> v)
    {
        var n = v.IntLength;
        if (n < 2)
        {
            return 0f;
        }

        var mean = 0f;
        for (var i = 0; i < n; i++)
        {
            mean += v[i];
        }

        mean /= n;
        var variance = 0f;
        for (var i = 0; i < n; i++)
        {
            var dv = v[i] - mean;
            variance += dv * dv;
        }

        return variance / (n - 1) / ((mean * mean) + 1e-10f);
    }

    /// <summary>CV² as <see cref="CvSquared(ArrayView{float})"/>, same operations in the same order, for the native target.</summary>
    public static float CvSquared(ReadOnlySpan<float> v)
    {
        var n = v.Length;
        if (n < 2)
        {
            return 0f;
        }

        var mean = 0f;
        for (var i = 0; i < n; i++)
        {
            mean += v[i];
        }

        mean /= n;
        var variance = 0f;
        for (var i = 0; i < n; i++)
        {
            var dv = v[i] - mean;
            variance += dv * dv;
        }

        return variance / (n - 1) / ((mean * mean) + 1e-10f);
    }

    /// <summary>erf by Abramowitz &amp; Stegun 7.1.26 (|error| &lt; 1.5e-7).</summary>
    public static float Erf(float x)
    {
        var s = x < 0f ? -1f : 1f;
        var ax = x < 0f ? -x : x;
        var t = 1f / (1f + (0.3275911f * ax));
        var p = ((((((((1.061405429f * t) - 1.453152027f) * t) + 1.421413741f) * t) - 0.284496736f) * t) + 0.254829592f) * t;
        return s * (1f - (p * XMath.Exp(-ax * ax)));
    }
}

/// <summary>Hash routing's fixed map from token id to expert (Roller 2021), the same on every device.</summary>
public static class TokenHash
{
    public static int Expert(int tokenId, int experts) => (int)(CounterRng.Mix((uint)tokenId ^ 0x5BD1E995u) % (uint)experts);
}
