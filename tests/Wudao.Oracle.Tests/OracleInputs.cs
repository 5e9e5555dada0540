using System;

namespace Wudao.Oracle.Tests;

/// <summary>Layer inputs uniform in [-2, 2] from a fixed seed, with no token whose routing is a near tie.</summary>
public static class OracleInputs
{
    /// <summary>
    /// Draws [tokens, Dim] inputs; a token whose routing is too close to call in fp32 (see
    /// <see cref="TorchMoe.NearTies"/>) is drawn again from the same stream until none is left,
    /// so any disagreement in routing is a real one, not rounding.
    /// </summary>
    public static float[] WithoutTies(MoeLayerInfo info, MoeWeights weights, int tokens, int seed, CounterSeed routingSeed, int step)
    {
        var rng = new Random(seed);
        var d = info.Dim;
        var x = new float[tokens * d];
        Fill(rng, x, 0, x.Length);
        for (var round = 0; ; round++)
        {
            var near = TorchMoe.NearTies(info, weights, x, tokens, routingSeed, step);
            var any = false;
            for (var t = 0; t < tokens; t++)
            {
                if (near[t])
                {
                    any = true;
                    Fill(rng, x, t * d, d);
                }
            }

            if (!any)
            {
                return x;
            }

            if (round == 100)
            {
                throw new InvalidOperationException($"{info.Name}: could not draw {tokens} tokens without routing ties");
            }
        }
    }

    private static void Fill(Random rng, float[] x, int start, int length)
    {
        for (var i = start; i < start + length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 4) - 2);
        }
    }
}
