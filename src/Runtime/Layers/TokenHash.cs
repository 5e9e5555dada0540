namespace Wudao;

/// <summary>Hash routing's fixed map from token id to expert (Roller 2021), the same on every device: a contract of the counter RNG, as its noise is.</summary>
public static class TokenHash
{
    /// <summary>The expert in [0, <paramref name="experts"/>) that token <paramref name="tokenId"/> always goes to.</summary>
    public static int Expert(int tokenId, int experts) => (int)(CounterRng.Mix((uint)tokenId ^ 0x5BD1E995u) % (uint)experts);
}
