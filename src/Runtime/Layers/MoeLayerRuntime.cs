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
            throw new ArgumentException($"{info.Name}.Forward: {tokens} tokens x {info.TopK} choices x {info.Dim} exceeds the 2^31 elements one launch can index; split the batch", nameof(x));
        }

        return tokens;
    }
}
