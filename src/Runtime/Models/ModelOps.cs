using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Wudao.Models;

/// <summary>
/// The native CPU kernels of a transformer's non-MoE steps, one method per fused kernel the
/// model plan holds (embed+norm, add+norm, GEMM, dense MLP). Rows are row-major; weights are
/// [in, out] (x·W), as the MoE layers store theirs. Vectorised through TensorPrimitives.
/// </summary>
public static class ModelOps
{
    /// <summary>Multiply-adds under which a GEMM stays on the calling thread (a decode step's GEMVs: handing them out costs more than it saves on few cores).</summary>
    public const long ParallelWork = 1 << 21;

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

    /// <summary>
    /// GEMM y[rows, n] = x[rows, k] · w[k, n] (+ bias). Each output row accumulates scaled weight
    /// rows, streaming w once per row. Products past <see cref="ParallelWork"/> multiply-adds split
    /// their output columns over <paramref name="workers"/> (the session's team: one pool of threads
    /// for the whole model, so kernels never compete with a second pool).
    /// </summary>
    public static void Linear(ReadOnlySpan<float> x, int rows, int k, ReadOnlySpan<float> w, int n, ReadOnlySpan<float> bias, Span<float> y, CpuWorkers? workers = null)
    {
        if (workers == null || workers.Threads == 1 || (long)rows * k * n < ParallelWork)
        {
            LinearBlock(x, rows, k, w, n, bias, y, 0, n);
            return;
        }

        unsafe
        {
            fixed (float* px = x, pw = w, pb = bias, py = y)
            {
                var job = new LinearJob((nint)px, x.Length, (nint)pw, w.Length, (nint)pb, bias.Length, (nint)py, y.Length, rows, k, n);
                workers.For(job, 0, (n + LinearJob.Columns - 1) / LinearJob.Columns);
            }
        }
    }

    /// <summary>One block of output columns per work item; the spans live as pointers for the call's duration.</summary>
    private sealed unsafe class LinearJob : CpuKernelSet
    {
        public const int Columns = 64;
        private readonly nint _x, _w, _b, _y;
        private readonly int _xl, _wl, _bl, _yl, _rows, _k, _n;

        public LinearJob(nint x, int xl, nint w, int wl, nint b, int bl, nint y, int yl, int rows, int k, int n)
            : base(new[] { "linear" })
        {
            (_x, _xl, _w, _wl, _b, _bl, _y, _yl, _rows, _k, _n) = (x, xl, w, wl, b, bl, y, yl, rows, k, n);
        }

        public override void Run(int kernel, int item, int worker)
        {
            var c0 = item * Columns;
            LinearBlock(new ReadOnlySpan<float>((void*)_x, _xl), _rows, _k, new ReadOnlySpan<float>((void*)_w, _wl), _n, new ReadOnlySpan<float>((void*)_b, _bl), new Span<float>((void*)_y, _yl), c0, Math.Min(_n, c0 + Columns));
        }
    }

    private static void LinearBlock(ReadOnlySpan<float> x, int rows, int k, ReadOnlySpan<float> w, int n, ReadOnlySpan<float> bias, Span<float> y, int c0, int c1)
    {
        var r = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // Four rows at a time: each weight vector loaded once feeds four accumulators held in registers.
            for (; r + 4 <= rows; r += 4)
            {
                Rows4(x, r, k, w, n, bias, y, c0, c1);
            }
        }

        for (; r < rows; r++)
        {
            var yr = y.Slice((r * n) + c0, c1 - c0);
            if (bias.IsEmpty)
            {
                yr.Clear();
            }
            else
            {
                bias.Slice(c0, c1 - c0).CopyTo(yr);
            }

            var xr = x.Slice(r * k, k);
            for (var i = 0; i < k; i++)
            {
                TensorPrimitives.FusedMultiplyAdd(w.Slice((i * n) + c0, c1 - c0), xr[i], yr, yr);
            }
        }
    }

    /// <summary>Rows r..r+3, columns c0..c1: a 4 × 16 register block per step over k, scalar columns at the tail.</summary>
    private static void Rows4(ReadOnlySpan<float> x, int r, int k, ReadOnlySpan<float> w, int n, ReadOnlySpan<float> bias, Span<float> y, int c0, int c1)
    {
        ref var xs = ref MemoryMarshal.GetReference(x);
        ref var ws = ref MemoryMarshal.GetReference(w);
        ref var ys = ref MemoryMarshal.GetReference(y);
        ref float x0 = ref Unsafe.Add(ref xs, r * k), x1 = ref Unsafe.Add(ref x0, k), x2 = ref Unsafe.Add(ref x1, k), x3 = ref Unsafe.Add(ref x2, k);
        var c = c0;
        for (; c + 16 <= c1; c += 16)
        {
            var b = bias.IsEmpty ? Vector512<float>.Zero : Vector512.Create(bias.Slice(c, 16));
            Vector512<float> a0 = b, a1 = b, a2 = b, a3 = b;
            ref var wc = ref Unsafe.Add(ref ws, c);
            for (var i = 0; i < k; i++)
            {
                var wv = Vector512.LoadUnsafe(ref wc, (nuint)((long)i * n));
                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref x0, i)), wv, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref x1, i)), wv, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref x2, i)), wv, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref x3, i)), wv, a3);
            }

            a0.StoreUnsafe(ref ys, (nuint)((long)r * n + c));
            a1.StoreUnsafe(ref ys, (nuint)((long)(r + 1) * n + c));
            a2.StoreUnsafe(ref ys, (nuint)((long)(r + 2) * n + c));
            a3.StoreUnsafe(ref ys, (nuint)((long)(r + 3) * n + c));
        }

        for (; c < c1; c++)
        {
            for (var j = 0; j < 4; j++)
            {
                var acc = bias.IsEmpty ? 0f : bias[c];
                var xr = x.Slice((r + j) * k, k);
                for (var i = 0; i < k; i++)
                {
                    acc = MathF.FusedMultiplyAdd(xr[i], w[(i * n) + c], acc);
                }

                y[((r + j) * n) + c] = acc;
            }
        }
    }
}
