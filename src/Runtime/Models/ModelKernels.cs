using ILGPU;
using ILGPU.Algorithms;

namespace Wudao.Models;

/// <summary>
/// The ILGPU kernels of a transformer's non-MoE steps: the same formulas as <see cref="ModelOps"/>,
/// one thread per row (norms) or per output element (GEMMs, activations, copies). Correct first:
/// the GEMM reads w coalesced across a warp's columns but does not tile through shared memory yet.
/// </summary>
public static class ModelKernels
{
    /// <summary>embed + norm: row t gathers embedding row ids[t] into the residual and writes its normalised copy.</summary>
    public static void EmbedNorm(Index1D t, ArrayView<int> ids, ArrayView<float> table, ArrayView<float> residual, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> normed, NormArgs a)
    {
        long from = (long)ids[t] * a.Dim;
        long to = (long)(int)t * a.Dim;
        for (var d = 0; d < a.Dim; d++)
        {
            residual[to + d] = table[from + d];
        }

        Normalise(residual, to, gamma, beta, normed, a);
    }

    /// <summary>add + norm: sum = residual + delta, normed = norm(sum), row t.</summary>
    public static void AddNorm(Index1D t, ArrayView<float> residual, ArrayView<float> delta, ArrayView<float> sum, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> normed, NormArgs a)
    {
        long o = (long)(int)t * a.Dim;
        for (var d = 0; d < a.Dim; d++)
        {
            sum[o + d] = residual[o + d] + delta[o + d];
        }

        Normalise(sum, o, gamma, beta, normed, a);
    }

    /// <summary>y[r, c] = Σ_i x[r, i]·w[i, c] (+ bias[c]); one thread per output element.</summary>
    public static void Linear(Index1D i, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y, LinearArgs a)
    {
        int r = i / a.N;
        int c = i - (r * a.N);
        float acc = a.HasBias != 0 ? bias[c] : 0f;
        long xo = (long)r * a.K;
        for (var k = 0; k < a.K; k++)
        {
            acc += x[xo + k] * w[((long)k * a.N) + c];
        }

        y[i] = acc;
    }

    /// <summary>Splits the fused projection's rows [t, q + 2·kv] into Q, K and V; one thread per element of a row.</summary>
    public static void SplitQkv(Index1D i, ArrayView<float> qkv, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, int qWidth, int kvWidth)
    {
        int width = qWidth + (2 * kvWidth);
        int t = i / width;
        int c = i - (t * width);
        float value = qkv[i];
        if (c < qWidth)
        {
            q[((long)t * qWidth) + c] = value;
        }
        else if (c < qWidth + kvWidth)
        {
            k[((long)t * kvWidth) + c - qWidth] = value;
        }
        else
        {
            v[((long)t * kvWidth) + c - qWidth - kvWidth] = value;
        }
    }

    private static void Normalise(ArrayView<float> x, long o, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> normed, NormArgs a)
    {
        float mean = 0f;
        if (a.Layer != 0)
        {
            for (var d = 0; d < a.Dim; d++)
            {
                mean += x[o + d];
            }

            mean /= a.Dim;
        }

        float squares = 0f;
        for (var d = 0; d < a.Dim; d++)
        {
            float c = x[o + d] - mean;
            squares += c * c;
        }

        float scale = 1f / XMath.Sqrt((squares / a.Dim) + a.Eps);
        for (var d = 0; d < a.Dim; d++)
        {
            normed[o + d] = ((x[o + d] - mean) * scale * gamma[d]) + (a.Layer != 0 ? beta[d] : 0f);
        }
    }
}

/// <summary>A norm's sizes: row width, ε, and whether it is LayerNorm (centred, with β) or RMSNorm.</summary>
public readonly struct NormArgs
{
    public NormArgs(int dim, float eps, bool layer)
    {
        Dim = dim;
        Eps = eps;
        Layer = layer ? 1 : 0;
    }

    public readonly int Dim;
    public readonly float Eps;
    public readonly int Layer;
}

/// <summary>A GEMM's inner and output widths, and whether it adds a bias.</summary>
public readonly struct LinearArgs
{
    public LinearArgs(int k, int n, bool hasBias)
    {
        K = k;
        N = n;
        HasBias = hasBias ? 1 : 0;
    }

    public readonly int K;
    public readonly int N;
    public readonly int HasBias;
}
