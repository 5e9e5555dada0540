using System.Runtime.InteropServices;

namespace Wudao;

/// <summary>The per-call scalars every kernel of a layer may read: one struct keeps launches short.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct LayerArgs
{
    public LayerArgs(int tokens, int capacity, CounterSeed seed, int step, float auxWeight, int tokenBase = 0, bool training = true)
    {
        Training = training ? 1 : 0;
        TokenBase = tokenBase;
        Tokens = tokens;
        Capacity = capacity;
        SeedLo = seed.Lo;
        SeedHi = seed.Hi;
        Step = step;
        AuxWeight = auxWeight;
    }

    /// <summary>Tokens in this call.</summary>
    public readonly int Tokens;

    /// <summary>Rows each expert may take; 0 = unlimited (dropless).</summary>
    public readonly int Capacity;

    public readonly uint SeedLo;

    public readonly uint SeedHi;

    /// <summary>Routing RNG counter of this call.</summary>
    public readonly int Step;

    /// <summary>α of the load-balancing loss.</summary>
    public readonly float AuxWeight;

    /// <summary>1 while training: routing draws its random numbers (noisy top-k's noise, Switch jitter, GShard's second-expert drop); 0 routes deterministically.</summary>
    public readonly int Training;

    /// <summary>Index of this call's first token in the global batch (non-zero on expert-parallel ranks after the first).</summary>
    public readonly int TokenBase;
}
