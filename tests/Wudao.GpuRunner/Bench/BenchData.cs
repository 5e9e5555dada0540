using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;

namespace Wudao.GpuRunner.Bench;

/// <summary>
/// Benchmark weights and inputs from a seed, drawn in parallel: Mixtral's layer holds 1.4 G
/// floats, which one thread takes many seconds to draw. Uniform in ±1/√fan-in as
/// <see cref="MoeWeights.Random(MoeLayerInfo, ulong)"/> draws them (ones for a norm's γ).
/// </summary>
public static class BenchData
{
    private const int Chunk = 1 << 20;

    public static MoeWeights Weights(IReadOnlyList<WeightSpec> specs, ulong seed) =>
        new(specs.Select((w, stream) =>
        {
            var data = new float[w.Shape.Aggregate(1, (a, d) => checked(a * d))];
            if (w.FanIn < 0)
            {
                Array.Fill(data, 1f);
            }
            else
            {
                Fill(data, seed, stream + 1, w.FanIn > 0 ? 1f / MathF.Sqrt(w.FanIn) : 0f);
            }

            return new HostTensor(w.Name, data, w.Shape.ToArray());
        }).ToList());

    /// <summary>Inputs uniform in [−1, 1).</summary>
    public static float[] Inputs(int length, ulong seed)
    {
        var data = new float[length];
        Fill(data, seed, 0, 1f);
        return data;
    }

    private static void Fill(float[] data, ulong seed, int stream, float bound)
    {
        var s = new CounterSeed(seed);
        Parallel.For(0, (data.Length + Chunk - 1) / Chunk, c =>
        {
            var end = (int)Math.Min(data.Length, ((long)c + 1) * Chunk);
            for (var i = c * Chunk; i < end; i++)
            {
                data[i] = ((2f * CounterRng.Uniform(s.Lo, s.Hi, stream, i)) - 1f) * bound;
            }
        });
    }
}
