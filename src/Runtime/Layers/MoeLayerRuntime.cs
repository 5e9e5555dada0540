using System;

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
        if ((long)tokens * info.TopK * Math.Max(info.Dim, info.Experts) > int.MaxValue)
        {
            throw new ArgumentException($"{info.Name}.Forward: {tokens} tokens x {info.TopK} choices x max(Dim, Experts) = {Math.Max(info.Dim, info.Experts)} exceeds the 2^31 elements one launch can index; split the batch", nameof(x));
        }

        return tokens;
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
