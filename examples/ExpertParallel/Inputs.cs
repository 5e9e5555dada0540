using System;

namespace ExpertParallel;

/// <summary>The global batch every rank generates identically.</summary>
internal static class Inputs
{
    public static float[] Make(int length)
    {
        var rng = new Random(7);
        var data = new float[length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return data;
    }
}
