using System;

namespace Wudao.Attention;

/// <summary>
/// What an attention call computes, fixed for a layer: head counts, head dimension, causal mask,
/// rotary embedding, softmax scale.
/// </summary>
/// <remarks>
/// Tensor layouts (row-major, fp32), for a call over T packed tokens:
/// q and out [T, Heads, HeadDim]; k and v [T, KvHeads, HeadDim]; lse [T, Heads].
/// Query head h reads kv head h / (Heads / KvHeads) (GQA; KvHeads = 1 is MQA).
/// RoPE is the rotate-half (GPT-NeoX / HF Llama) form: pairs (i, i + HeadDim/2) turn by
/// position · RopeBase^(−2i/HeadDim).
/// </remarks>
public sealed class AttentionShape
{
    private readonly float[] _inverseFrequencies;

    /// <summary>Checks and fixes a layer's attention; throws when kvHeads does not divide heads, headDim is odd or below 2, or the RoPE base or scale is out of range.</summary>
    public AttentionShape(int heads, int kvHeads, int headDim, bool causal = true, bool rope = false, float ropeBase = 10000f, float? scale = null)
    {
        if (heads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(heads), heads, "attention needs at least one query head");
        }

        if (kvHeads < 1 || heads % kvHeads != 0)
        {
            throw new ArgumentException($"KvHeads ({kvHeads}) must be at least 1 and divide Heads ({heads})", nameof(kvHeads));
        }

        if (headDim < 2 || headDim % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "the head dimension must be even (RoPE rotates pairs) and at least 2");
        }

        if (rope && !(ropeBase > 1f && float.IsFinite(ropeBase)))
        {
            throw new ArgumentOutOfRangeException(nameof(ropeBase), ropeBase, "the RoPE base must be a finite number above 1");
        }

        if (scale is { } s && !(s > 0f && float.IsFinite(s)))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), s, "the softmax scale must be a finite positive number");
        }

        Heads = heads;
        KvHeads = kvHeads;
        HeadDim = headDim;
        Causal = causal;
        Rope = rope;
        RopeBase = ropeBase;
        Scale = scale ?? 1f / MathF.Sqrt(headDim);
        _inverseFrequencies = new float[headDim / 2];
        for (var i = 0; i < _inverseFrequencies.Length; i++)
        {
            // 1 / base^(2i/d) rounded once to fp32 (HF's fp32 table, without its rounding steps): the
            // generator emits a model's kernels this very table as constants (a test holds them equal).
            _inverseFrequencies[i] = (float)(1.0 / Math.Pow(ropeBase, 2.0 * i / headDim));
        }
    }

    /// <summary>Query heads.</summary>
    public int Heads { get; }

    /// <summary>Key/value heads; divides <see cref="Heads"/> (equal: MHA, fewer: GQA, 1: MQA).</summary>
    public int KvHeads { get; }

    /// <summary>Floats per head; even.</summary>
    public int HeadDim { get; }

    /// <summary>Whether a query sees only keys at or before its own position.</summary>
    public bool Causal { get; }

    /// <summary>Whether q and k are rotated by rotary position embedding (rotate-half form).</summary>
    public bool Rope { get; }

    /// <summary>The RoPE base (θ), e.g. 10000.</summary>
    public float RopeBase { get; }

    /// <summary>Multiplies q·k before the softmax; 1/√HeadDim unless given.</summary>
    public float Scale { get; }

    /// <summary>Query heads that share one kv head.</summary>
    public int Group => Heads / KvHeads;

    /// <summary>RopeBase^(−2i/HeadDim) for i &lt; HeadDim/2: the frequencies every kernel rotates by.</summary>
    public ReadOnlySpan<float> InverseFrequencies => _inverseFrequencies;

    /// <summary>The shape in one line, for logs and errors.</summary>
    public override string ToString() =>
        $"attention(heads {Heads}, kv {KvHeads}, dim {HeadDim}{(Causal ? ", causal" : "")}{(Rope ? $", rope {RopeBase}" : "")}, scale {Scale})";
}
