using System;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Wudao.Benchmarks;

/// <summary>
/// The same layer as users would write it with libtorch: gate, top-k, sort + bincount to group
/// tokens by expert, per expert index_select → mm → gelu → mm, and index_add_ to combine.
/// </summary>
public sealed class TorchMoeLayer : IDisposable
{
    private readonly Tensor _wg;
    private readonly Tensor[] _w1;
    private readonly Tensor[] _b1;
    private readonly Tensor[] _w2;
    private readonly Tensor[] _b2;
    private readonly int _k;

    /// <summary>The layer's weights; with <paramref name="trainable"/>, each a leaf that autograd fills <c>.grad</c> of.</summary>
    public TorchMoeLayer(MoeLayerInfo info, MoeWeights w, bool trainable = false)
    {
        int d = info.Dim, e = info.Experts, h = info.Hidden;
        _k = info.TopK;
        _wg = tensor(w["gate.weight"].Data, new long[] { d, e });
        var w1 = tensor(w["experts.w1"].Data, new long[] { e, d, h });
        var b1 = tensor(w["experts.b1"].Data, new long[] { e, h });
        var w2 = tensor(w["experts.w2"].Data, new long[] { e, h, d });
        var b2 = tensor(w["experts.b2"].Data, new long[] { e, d });
        _w1 = new Tensor[e];
        _b1 = new Tensor[e];
        _w2 = new Tensor[e];
        _b2 = new Tensor[e];
        for (var i = 0; i < e; i++)
        {
            _w1[i] = w1[i].contiguous();
            _b1[i] = b1[i].contiguous();
            _w2[i] = w2[i].contiguous();
            _b2[i] = b2[i].contiguous();
        }

        if (trainable)
        {
            Parameters = new[] { _wg }.Concat(_w1).Concat(_b1).Concat(_w2).Concat(_b2).Select(t => new TorchSharp.Modules.Parameter(t, requires_grad: true)).ToArray();
            _wg = Parameters[0];
            for (var i = 0; i < e; i++)
            {
                (_w1[i], _b1[i], _w2[i], _b2[i]) = (Parameters[1 + i], Parameters[1 + e + i], Parameters[1 + (2 * e) + i], Parameters[1 + (3 * e) + i]);
            }
        }
    }

    /// <summary>The trainable leaves (router weight, then each expert's w1, b1, w2, b2), when trainable.</summary>
    public TorchSharp.Modules.Parameter[] Parameters { get; } = Array.Empty<TorchSharp.Modules.Parameter>();

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var probs = x.mm(_wg).softmax(1);
        var (top, experts) = probs.topk(_k, dim: 1);
        var gates = top / top.sum(1, keepdim: true);
        var flat = experts.reshape(-1);
        var order = flat.argsort();
        var counts = flat.bincount(null, _w1.Length).data<long>().ToArray();
        var token = order.div(_k, rounding_mode: RoundingMode.floor);
        var gate = gates.reshape(-1).index_select(0, order);
        var output = zeros_like(x);
        long start = 0;
        for (var e = 0; e < _w1.Length; e++)
        {
            var n = counts[e];
            if (n == 0)
            {
                continue;
            }

            var rows = token.narrow(0, start, n);
            var hidden = nn.functional.gelu(x.index_select(0, rows).mm(_w1[e]) + _b1[e]);
            var y = hidden.mm(_w2[e]) + _b2[e];
            output.index_add_(0, rows, y * gate.narrow(0, start, n).unsqueeze(1), 1.0);
            start += n;
        }

        return output.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _wg.Dispose();
        foreach (var t in _w1)
        {
            t.Dispose();
        }

        foreach (var t in _b1)
        {
            t.Dispose();
        }

        foreach (var t in _w2)
        {
            t.Dispose();
        }

        foreach (var t in _b2)
        {
            t.Dispose();
        }
    }
}
