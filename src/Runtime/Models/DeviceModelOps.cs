using System;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao.Models;

/// <summary>
/// Launches <see cref="ModelKernels"/> on a session's accelerator: the device schedule of a
/// model's non-MoE kernels, as <see cref="ModelOps"/> is the native one. Loaded once per session.
/// </summary>
public sealed class DeviceModelOps
{
    private readonly Session _session;
    private readonly Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormArgs> _embedNorm;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormArgs> _addNorm;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearArgs> _linear;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> _split;

    public DeviceModelOps(Session session)
    {
        _session = session ?? throw new ArgumentNullException(nameof(session));
        _embedNorm = session.Kernel("Wudao.Models.EmbedNorm", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormArgs>(ModelKernels.EmbedNorm));
        _addNorm = session.Kernel("Wudao.Models.AddNorm", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormArgs>(ModelKernels.AddNorm));
        _linear = session.Kernel("Wudao.Models.Linear", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, LinearArgs>(ModelKernels.Linear));
        _split = session.Kernel("Wudao.Models.SplitQkv", a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ModelKernels.SplitQkv));
    }

    /// <summary>Token ids, checked against the vocabulary on the host, into a device buffer of the step's scope.</summary>
    public ArrayView<int> Ids(ForwardScope scope, ReadOnlySpan<int> ids, int vocab)
    {
        for (var t = 0; t < ids.Length; t++)
        {
            if ((uint)ids[t] >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[t]} at position {t} is outside [0, {vocab})");
            }
        }

        var view = scope.I32(ids.Length);
        view.CopyFromCPU(_session.Accelerator.DefaultStream, ids);
        return view;
    }

    public void EmbedNorm(ArrayView<int> ids, int tokens, DeviceTensor table, ArrayView<float> residual, DeviceTensor gamma, DeviceTensor? beta, NormArgs a, ArrayView<float> normed) =>
        _embedNorm(tokens, ids, table.View, residual, gamma.View, (beta ?? gamma).View, normed, a);

    public void AddNorm(ArrayView<float> residual, ArrayView<float> delta, ArrayView<float> sum, int tokens, DeviceTensor gamma, DeviceTensor? beta, NormArgs a, ArrayView<float> normed) =>
        _addNorm(tokens, residual, delta, sum, gamma.View, (beta ?? gamma).View, normed, a);

    /// <summary>y[rows, n] = x[rows, k]·w[k, n] (+ bias).</summary>
    public void Linear(ArrayView<float> x, int rows, int k, DeviceTensor w, int n, DeviceTensor? bias, ArrayView<float> y)
    {
        if (rows > 0)
        {
            _linear(rows * n, x, w.View, (bias ?? w).View, y, new LinearArgs(k, n, bias != null));
        }
    }

    public void SplitQkv(ArrayView<float> qkv, int tokens, int q, int kv, ArrayView<float> queries, ArrayView<float> keys, ArrayView<float> values) =>
        _split(tokens * (q + (2 * kv)), qkv, queries, keys, values, q, kv);
}
