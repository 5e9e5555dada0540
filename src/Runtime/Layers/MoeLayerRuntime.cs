using System;
using ILGPU.Runtime;

namespace Wudao;

/// <summary>Checks shared by every generated launcher.</summary>
public static class MoeLayerRuntime
{
    /// <summary>The token count of an input, after checking it is [tokens, Dim] and small enough to index.</summary>
    public static int Tokens(DeviceTensor x, MoeLayerInfo info)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Shape.Count != 2 || x.Shape[1] != info.Dim)
        {
            throw new ArgumentException($"{info.Name}.Forward expects x of shape [tokens, {info.Dim}], got [{string.Join(", ", x.Shape)}]", nameof(x));
        }

        var tokens = x.Shape[0];
        if ((long)tokens * info.Choices * Math.Max(info.Dim, info.FfnExperts) > int.MaxValue)
        {
            throw new ArgumentException($"{info.Name}.Forward: {tokens} tokens x {info.Choices} choices x max(Dim, Experts) = {Math.Max(info.Dim, info.Experts)} exceeds the 2^31 elements one launch can index; split the batch", nameof(x));
        }

        return tokens;
    }

    /// <summary>Checks that a backward's output cotangent matches the forward it backpropagates: [tokens, Dim].</summary>
    public static void RequireCotangent(DeviceTensor dOutput, int tokens, MoeLayerInfo info)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (dOutput.Shape.Count != 2 || dOutput.Shape[0] != tokens || dOutput.Shape[1] != info.Dim)
        {
            throw new ArgumentException($"{info.Name}.Backward expects dOutput of shape [{tokens}, {info.Dim}] (the last Forward's output), got [{string.Join(", ", dOutput.Shape)}]", nameof(dOutput));
        }
    }

    /// <summary>The opt-in checked mode: throws naming the first token (and column) holding a NaN or an infinity.</summary>
    public static void RequireFinite(DeviceTensor x, MoeLayerInfo info)
    {
        var values = x.ToArray();
        var i = FirstNonFinite(values);
        if (i >= 0)
        {
            var what = float.IsNaN(values[i]) ? "NaN" : values[i] > 0f ? "+infinity" : "-infinity";
            throw new NonFiniteInputException($"{info.Name}.Forward: token {i / info.Dim} has {what} at column {i % info.Dim} (CheckFinite is on; with it off, that token's output row is NaN)", i / info.Dim);
        }
    }

    /// <summary>Index of the first NaN or infinity in <paramref name="values"/>; −1 when all are finite.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Checks hash routing's token ids (one per token, each in [0, vocab)) and copies them into a
    /// buffer of the call's scope. Kernels index nothing by id, but a wrong id would route silently.
    /// </summary>
    public static ILGPU.ArrayView<int> UploadTokenIds(Session session, ForwardScope scope, ReadOnlySpan<int> tokenIds, int tokens, int vocab)
    {
        if (tokenIds.Length != tokens)
        {
            throw new ArgumentException($"hash routing needs one token id per token: x has {tokens} tokens, tokenIds has {tokenIds.Length}", nameof(tokenIds));
        }

        for (var t = 0; t < tokenIds.Length; t++)
        {
            if ((uint)tokenIds[t] >= (uint)vocab)
            {
                throw new ArgumentOutOfRangeException(nameof(tokenIds), $"tokenIds[{t}] = {tokenIds[t]} is outside [0, {vocab}) (the declared Vocab)");
            }
        }

        var ids = scope.I32(Math.Max(1, tokens));
        if (tokens > 0)
        {
            ids.SubView(0, tokens).CopyFromCPU(session.Accelerator.DefaultStream, tokenIds);
        }

        return ids;
    }

    /// <summary>Throws unless a stage's buffer holds at least <paramref name="need"/> elements (kernels do not bounds-check).</summary>
    public static void Require(long have, long need, string stage, string buffer)
    {
        if (have < need)
        {
            throw new ArgumentException($"{stage}: '{buffer}' holds {have} elements but {need} are needed");
        }
    }

    /// <summary>
    /// Throws unless the expert-contiguous offsets in a CPU-memory statistics block rise from 0 to
    /// at most <paramref name="rowBound"/> rows: the native kernels trust them as indices.
    /// </summary>
    public static void RequireOffsets(ILGPU.ArrayView<int> meta, int at, int experts, long rowBound, string stage)
    {
        ref var m = ref CpuMemory.Ref(meta);
        var previous = 0;
        for (var e = 0; e <= experts; e++)
        {
            var o = System.Runtime.CompilerServices.Unsafe.Add(ref m, at + e);
            if (o < previous || (e == 0 && o != 0) || o > rowBound)
            {
                throw new ArgumentException($"{stage}: row offsets must rise from 0 to at most {rowBound}; offsets[{e}] = {o}");
            }

            previous = o;
        }
    }
}
