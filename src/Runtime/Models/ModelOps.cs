using System;
using System.Numerics.Tensors;

namespace Wudao.Models;

/// <summary>
/// The native CPU norms of a transformer (embed+norm, add+norm); its GEMMs are emitted into the
/// model. Rows are row-major. Vectorised through TensorPrimitives.
/// </summary>
public static class ModelOps
{
    /// <summary>embed + norm: gathers each token's row (the residual) and writes its normalised copy.</summary>
    public static void EmbedNorm(ReadOnlySpan<int> ids, ReadOnlySpan<float> table, int vocab, int dim, Span<float> residual, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, Span<float> normed)
    {
        for (var t = 0; t < ids.Length; t++)
        {
            var id = ids[t];
            if ((uint)id >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} at position {t} is outside [0, {vocab})");
            }

            table.Slice(id * dim, dim).CopyTo(residual.Slice(t * dim, dim));
        }

        Norm(residual, dim, gamma, beta, eps, normed);
    }

    /// <summary>add + norm: the residual stream gains <paramref name="delta"/>, and the next block reads its normalised rows.</summary>
    public static void AddNorm(ReadOnlySpan<float> residual, ReadOnlySpan<float> delta, Span<float> sum, int dim, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, Span<float> normed)
    {
        TensorPrimitives.Add(residual, delta, sum);
        Norm(sum, dim, gamma, beta, eps, normed);
    }

    /// <summary>RMSNorm when <paramref name="beta"/> is empty (x / sqrt(mean x² + ε) · γ), else LayerNorm ((x − μ) / sqrt(σ² + ε) · γ + β).</summary>
    public static void Norm(ReadOnlySpan<float> x, int dim, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, float eps, Span<float> output)
    {
        var rows = x.Length / dim;
        for (var r = 0; r < rows; r++)
        {
            var row = x.Slice(r * dim, dim);
            var o = output.Slice(r * dim, dim);
            if (beta.IsEmpty)
            {
                var scale = 1f / MathF.Sqrt((TensorPrimitives.SumOfSquares(row) / dim) + eps);
                TensorPrimitives.Multiply(row, scale, o);
                TensorPrimitives.Multiply(o, gamma, o);
            }
            else
            {
                var mean = TensorPrimitives.Sum(row) / dim;
                TensorPrimitives.Subtract(row, mean, o);
                var scale = 1f / MathF.Sqrt((TensorPrimitives.SumOfSquares(o) / dim) + eps);
                TensorPrimitives.Multiply(o, scale, o);
                TensorPrimitives.FusedMultiplyAdd(o, gamma, beta, o);
            }
        }
    }
}
