using System;

namespace Wudao.Models;

/// <summary>Steps of a generated model's launcher that are not kernels: splitting Q/K/V, running a MoE block, checks.</summary>
public static class ModelRuntime
{
    /// <summary>The fused projection's rows [t, q + 2·kv] into Q [t, q], K [t, kv], V [t, kv] as the attention kernel reads them.</summary>
    public static void SplitQkv(ReadOnlySpan<float> qkv, int tokens, int q, int kv, Span<float> queries, Span<float> keys, Span<float> values)
    {
        var width = q + (2 * kv);
        for (var t = 0; t < tokens; t++)
        {
            var row = qkv.Slice(t * width, width);
            row.Slice(0, q).CopyTo(queries.Slice(t * q, q));
            row.Slice(q, kv).CopyTo(keys.Slice(t * kv, kv));
            row.Slice(q + kv, kv).CopyTo(values.Slice(t * kv, kv));
        }
    }

    /// <summary>Token ids, checked against the vocabulary on the host, into a device buffer of the step's scope.</summary>
    public static ILGPU.ArrayView<int> DeviceIds(Session session, ForwardScope scope, ReadOnlySpan<int> ids, int vocab)
    {
        for (var t = 0; t < ids.Length; t++)
        {
            if ((uint)ids[t] >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {ids[t]} at position {t} is outside [0, {vocab})");
            }
        }

        var view = scope.I32(ids.Length);
        ILGPU.Runtime.ArrayViewExtensions.CopyFromCPU(view, session.Accelerator.DefaultStream, ids);
        return view;
    }

    /// <summary>Runs one MoE block on the session's device and brings its output rows back; its statistics join <paramref name="load"/>.</summary>
    public static MoeStats RunMoe(Session session, Func<DeviceTensor, MoeResult> forward, ReadOnlySpan<float> x, int tokens, int dim, Span<float> output, MoeStatsAccumulator load)
    {
        using var input = session.Upload(x, tokens, dim);
        using var result = forward(input);
        result.Output.CopyTo(output);
        load.Add(result.Stats);
        return result.Stats;
    }

    /// <summary>Throws unless a step of <paramref name="tokens"/> fits after the <paramref name="cached"/> ones.</summary>
    public static void CheckStep(int tokens, int cached, int maxSequence, int vocab, string model)
    {
        if (tokens == 0)
        {
            throw new ArgumentException($"{model}: a step needs at least one token");
        }

        // Checked before any layer runs: a full pass's logits must fit one array (and the device's int-indexed launch).
        if ((long)tokens * vocab > int.MaxValue)
        {
            throw new ArgumentException($"{model}: {tokens} tokens x {vocab} logits exceed what one call returns; send the sequence in several Steps");
        }

        if (cached + tokens > maxSequence)
        {
            throw new ArgumentException($"{model}: {cached} cached + {tokens} new tokens exceed MaxSequence = {maxSequence}; call Reset or declare a larger MaxSequence");
        }
    }
}
