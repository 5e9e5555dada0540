using System.Runtime.InteropServices;

namespace Wudao;

/// <summary>The per-call scalars every kernel of a layer may read: one struct keeps launches short.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct LayerArgs
{
    /// <summary>The scalars of one call on one rank, running both route phases (<see cref="RoutePhase.Both"/>).</summary>
    public LayerArgs(int tokens, int capacity, CounterSeed seed, int step, int tokenBase = 0, bool training = true)
    {
        Training = training ? 1 : 0;
        TokenBase = tokenBase;
        Tokens = tokens;
        Capacity = capacity;
        SeedLo = seed.Lo;
        SeedHi = seed.Hi;
        Step = step;
        Ranks = 1;
    }

    private LayerArgs(LayerArgs a, RoutePhase phase, int rank, int ranks)
    {
        this = a;
        Phase = (int)phase;
        Rank = rank;
        Ranks = ranks;
    }

    /// <summary>Tokens in this call.</summary>
    public readonly int Tokens;

    /// <summary>Rows each expert may take; 0 = unlimited (dropless).</summary>
    public readonly int Capacity;

    /// <summary>Low half of the routing seed (<see cref="CounterSeed.Lo"/>).</summary>
    public readonly uint SeedLo;

    /// <summary>High half of the routing seed (<see cref="CounterSeed.Hi"/>).</summary>
    public readonly uint SeedHi;

    /// <summary>Routing RNG counter of this call.</summary>
    public readonly int Step;

    /// <summary>1 while training: routing draws its random numbers (noisy top-k's noise, Switch jitter, GShard's second-expert drop); 0 routes deterministically.</summary>
    public readonly int Training;

    /// <summary>Index of this call's first token in the global batch (non-zero on expert-parallel ranks after the first).</summary>
    public readonly int TokenBase;

    /// <summary>Which part of the route kernel runs (<see cref="RoutePhase"/>); the other kernels ignore it.</summary>
    public readonly int Phase;

    /// <summary>This rank, and the ranks whose route partials the route's slot phase reads (1 on one rank).</summary>
    public readonly int Rank;

    /// <summary>Ranks of the expert-parallel group; 1 on one rank.</summary>
    public readonly int Ranks;

    /// <summary>These arguments for one phase of the route kernel, as rank <paramref name="rank"/> of <paramref name="ranks"/>.</summary>
    public LayerArgs ForRoute(RoutePhase phase, int rank, int ranks) => new(this, phase, rank, ranks);
}

/// <summary>
/// The route kernel's two phases. Partials: this rank's per-choice expert counts, non-finite
/// tokens and loss sums. Slots: from every rank's partials, each choice's global position, the
/// capacity decision, the rank's send layout and the global batch's statistics. One rank runs
/// both in one launch; expert-parallel ranks all-gather the partials between them.
/// </summary>
public enum RoutePhase
{
    /// <summary>Partials and slots in one launch (one rank).</summary>
    Both = 0,
    /// <summary>This rank's partials only: per-choice expert counts, non-finite tokens, loss sums.</summary>
    Partials = 1,
    /// <summary>Slots only, from every rank's gathered partials: global positions, capacity decisions, send layout, statistics.</summary>
    Slots = 2,
}
