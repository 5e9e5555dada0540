using ILGPU.Algorithms;

namespace Wudao;

/// <summary>A 64-bit routing seed split in halves, as kernels take it.</summary>
public readonly struct CounterSeed
{
    /// <summary>Splits <paramref name="seed"/> into its low and high 32 bits.</summary>
    public CounterSeed(ulong seed)
    {
        Lo = (uint)seed;
        Hi = (uint)(seed >> 32);
    }

    /// <summary>Low 32 bits of the seed.</summary>
    public uint Lo { get; }

    /// <summary>High 32 bits of the seed.</summary>
    public uint Hi { get; }
}

/// <summary>
/// Counter-based random numbers: a pure hash of (seed, step, index), so any thread on any device
/// draws the same number for the same token, in any order. Callable from kernels.
/// </summary>
public static class CounterRng
{
    /// <summary>Mixed into the seed's high half for the router-input jitter, so its draws never repeat GShard's.</summary>
    public const uint JitterStream = 0x6A09E667u;

    /// <summary>Mixed into the seed's high half for noisy top-k's ε, a stream of its own.</summary>
    public const uint NoiseStream = 0xBB67AE85u;

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public static float Uniform(uint seedLo, uint seedHi, int step, int index)
    {
        var h = Mix(seedLo ^ 0x9E3779B9u);
        h = Mix(h ^ seedHi);
        h = Mix(h ^ (uint)step);
        h = Mix(h ^ (uint)index);
        return (h >> 8) * (1f / 16777216f);
    }

    /// <summary>
    /// Standard normal by Box–Muller over two uniform draws of the same counter (the second with
    /// the index's bits flipped, so the pair never collides with a neighbour's first draw).
    /// </summary>
    public static float Normal(uint seedLo, uint seedHi, int step, int index)
    {
        var u1 = 1f - Uniform(seedLo, seedHi, step, index); // (0, 1]: the log stays finite
        var u2 = Uniform(seedLo ^ 0x3C6EF372u, seedHi, step, index);
        return XMath.Sqrt(-2f * XMath.Log(u1)) * XMath.Cos(6.2831855f * u2);
    }

    /// <summary>A 32-bit avalanche mixer (xorshift-multiply, two rounds).</summary>
    public static uint Mix(uint x)
    {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x;
    }
}
