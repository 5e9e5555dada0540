using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Spec;

/// <summary>The rules a declaration must satisfy before lowering; all problems are reported, not just the first.</summary>
public static class SpecValidator
{
    /// <summary>Largest Dim whose one-row expert tile fits the kernel's shared-memory budget.</summary>
    public const int MaxDim = 8192;

    /// <summary>Most experts the route kernel's shared-memory counters hold (8 bytes each).</summary>
    public const int MaxExperts = 4096;

    /// <summary>Most experts noisy top-k's route kernel holds: counters, importance and load (12 bytes each) fit 48 KiB of shared memory.</summary>
    public const int MaxNoisyExperts = 3072;

    public static List<SpecError> Validate(MoeLayerSpec s)
    {
        var errors = new List<SpecError>();
        Positive(errors, "Dim", s.Dim);
        Positive(errors, "Experts", s.Experts);
        if (s.Router != RouterKind.ExpertChoice)
        {
            Positive(errors, "TopK", s.TopK);
        }

        Positive(errors, "Hidden", s.Hidden);
        if (s.Dim > MaxDim)
        {
            errors.Add(new SpecError(SpecErrorKind.SizeTooLarge, "Dim", $"Dim = {s.Dim} exceeds {MaxDim}, the largest width one expert tile row can hold in shared memory"));
        }

        if (s.Experts > MaxExperts)
        {
            errors.Add(new SpecError(SpecErrorKind.SizeTooLarge, "Experts", $"Experts = {s.Experts} exceeds {MaxExperts}, the most the route kernel keeps per-expert counters for in shared memory"));
        }

        if (s.TopK > 0 && s.Experts > 0 && s.TopK > s.Experts)
        {
            errors.Add(new SpecError(SpecErrorKind.TopKExceedsExperts, "TopK", $"TopK = {s.TopK} exceeds Experts = {s.Experts}: a token cannot choose more experts than exist"));
        }

        if (Ir.Activations.ByValue((int)s.Activation) == null)
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedActivation, "Activation", $"activation value {(int)s.Activation} is not one of {string.Join(", ", Ir.Activations.All.Select(a => a.Kind))}"));
        }

        switch (s.Router)
        {
            case RouterKind.TopK when s.TopK > 4:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "TopK", $"the TopK router supports k = 1..4, got {s.TopK}"));
                break;
            case RouterKind.Switch when s.TopK != 1:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "TopK", $"the Switch router routes each token to one expert (TopK = 1), got TopK = {s.TopK}"));
                break;
            case RouterKind.GShard when s.TopK != 2:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "TopK", $"the GShard router routes each token to two experts (TopK = 2), got TopK = {s.TopK}"));
                break;
            case RouterKind.NoisyTopK when s.TopK > 4:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "TopK", $"the NoisyTopK router supports k = 1..4, got {s.TopK}"));
                break;
            case RouterKind.DeepSeek when s.TopK > 8:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "TopK", $"the DeepSeek router supports k = 1..8, got {s.TopK}"));
                break;
            case RouterKind.Hash when s.TopK != 1:
                errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "TopK", $"hash routing sends each token to the one expert its id hashes to (TopK = 1), got TopK = {s.TopK}"));
                break;
            case RouterKind.ExpertChoice when s.TopK != 0:
                errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "TopK", $"under expert choice the experts pick tokens, so a token has no TopK (got TopK = {s.TopK}); remove TopK and size the choice with CapacityFactor"));
                break;
            case RouterKind.TopK or RouterKind.Switch or RouterKind.GShard or RouterKind.NoisyTopK or RouterKind.DeepSeek or RouterKind.Hash or RouterKind.ExpertChoice:
                break;
            default:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "Router", $"router value {(int)s.Router} is not one of TopK, Switch, GShard, NoisyTopK, ExpertChoice, Hash, DeepSeek"));
                break;
        }

        RouterOptions(errors, s);

        if (!(s.CapacityFactor >= 0f) || float.IsInfinity(s.CapacityFactor))
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "CapacityFactor", $"CapacityFactor = {s.CapacityFactor} must be a finite number >= 0 (0 means dropless)"));
        }

        if (s.Ranks < 0)
        {
            errors.Add(new SpecError(SpecErrorKind.NonPositiveSize, "Ranks", $"Ranks = {s.Ranks} must be positive"));
        }
        else if (s.Ranks > 0 && s.Experts > 0 && (s.Experts + System.Math.Max(0, s.SharedExperts)) % s.Ranks != 0)
        {
            var count = s.SharedExperts > 0 ? $"Experts + SharedExperts = {s.Experts + s.SharedExperts}" : $"Experts = {s.Experts}";
            errors.Add(new SpecError(SpecErrorKind.UnevenPartition, "Ranks", $"{count} cannot be split evenly over Ranks = {s.Ranks}; use a rank count that divides the expert count"));
        }

        if (!(s.Jitter >= 0f && s.Jitter < 1f))
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "Jitter", $"Jitter = {s.Jitter} must be in [0, 1): the router input is multiplied by U(1-Jitter, 1+Jitter)"));
        }

        if (!(s.ZLossWeight >= 0f) || float.IsInfinity(s.ZLossWeight))
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "ZLossWeight", $"ZLossWeight = {s.ZLossWeight} must be a finite number >= 0"));
        }

        if (!(s.AuxLossWeight >= 0f) || float.IsInfinity(s.AuxLossWeight))
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "AuxLossWeight", $"AuxLossWeight = {s.AuxLossWeight} must be a finite number >= 0"));
        }

        return errors;
    }

    /// <summary>Options that belong to one router, and values out of range.</summary>
    private static void RouterOptions(List<SpecError> errors, MoeLayerSpec s)
    {
        void Only(bool declared, RouterKind owner, string property, string what)
        {
            if (declared && s.Router != owner)
            {
                errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, property, $"{property} {what} of the {owner} router; the {s.Router} router has none"));
            }
        }

        Only(s.ImportanceWeight != 0f, RouterKind.NoisyTopK, "ImportanceWeight", "weighs a loss");
        Only(s.LoadWeight != 0f, RouterKind.NoisyTopK, "LoadWeight", "weighs a loss");
        Only(s.SharedExperts != 0, RouterKind.DeepSeek, "SharedExperts", "is an option");
        Only(s.BiasUpdateRate != 0f, RouterKind.DeepSeek, "BiasUpdateRate", "is an option");
        Only(s.Vocab != 0, RouterKind.Hash, "Vocab", "is an option");
        if (s.Router is RouterKind.NoisyTopK or RouterKind.Hash or RouterKind.DeepSeek or RouterKind.ExpertChoice)
        {
            if (s.Jitter != 0f)
            {
                errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "Jitter", $"Jitter perturbs a softmax router's input (TopK, Switch, GShard); the {s.Router} router does not take it"));
            }

            if (s.ZLossWeight != 0f)
            {
                errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "ZLossWeight", $"the router z-loss is defined for softmax routers over experts (TopK, Switch, GShard); the {s.Router} router does not compute it"));
            }

            if (s.AuxLossWeight != 0f)
            {
                errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "AuxLossWeight", $"AuxLossWeight weighs the Switch/GShard balance loss; the {s.Router} router balances {BalanceOf(s.Router)} instead: leave AuxLossWeight unset"));
            }
        }

        if (s.Ranks > 0 && s.Router == RouterKind.ExpertChoice)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "Ranks", "expert parallelism runs the token-choice routers: under expert choice each expert ranks every token of the global batch by score, which needs every rank's router probabilities, not a count per rank; run it on one rank"));
        }

        if (s.Router == RouterKind.Hash && s.Vocab <= 0)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "Vocab", s.Vocab == 0
                ? "hash routing reads token ids: declare Vocab (ids lie in [0, Vocab)) and call Forward(x, tokenIds)"
                : $"Vocab = {s.Vocab} must be positive"));
        }

        if (s.Router == RouterKind.DeepSeek && s.SharedExperts < 0)
        {
            errors.Add(new SpecError(SpecErrorKind.NonPositiveSize, "SharedExperts", $"SharedExperts = {s.SharedExperts} must be 0 or more"));
        }
        else if (s.Experts > 0 && s.Experts <= MaxExperts && s.Experts + s.SharedExperts > MaxExperts)
        {
            errors.Add(new SpecError(SpecErrorKind.SizeTooLarge, "SharedExperts", $"Experts + SharedExperts = {s.Experts + s.SharedExperts} exceeds {MaxExperts}, the most the route kernel keeps per-expert counters for in shared memory"));
        }

        if (s.Router == RouterKind.NoisyTopK && s.Experts > MaxNoisyExperts)
        {
            errors.Add(new SpecError(SpecErrorKind.SizeTooLarge, "Experts", $"the NoisyTopK router supports at most {MaxNoisyExperts} experts (its route kernel also keeps each expert's load in shared memory), got {s.Experts}"));
        }

        if (s.Router == RouterKind.ExpertChoice && !(s.CapacityFactor > 0f))
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "CapacityFactor", $"expert choice needs CapacityFactor > 0 (each expert takes ceil(c·T/E) tokens), got {s.CapacityFactor}"));
        }

        NonNegative(errors, "ImportanceWeight", s.ImportanceWeight);
        NonNegative(errors, "LoadWeight", s.LoadWeight);
        NonNegative(errors, "BiasUpdateRate", s.BiasUpdateRate);
    }

    private static string BalanceOf(RouterKind router) => router switch
    {
        RouterKind.NoisyTopK => "with its importance and load losses",
        RouterKind.DeepSeek => "with its bias update",
        _ => "by construction",
    };

    private static void NonNegative(List<SpecError> errors, string property, float value)
    {
        if (!(value >= 0f) || float.IsInfinity(value))
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, property, $"{property} = {value} must be a finite number >= 0"));
        }
    }

    private static void Positive(List<SpecError> errors, string property, int value)
    {
        if (value <= 0)
        {
            errors.Add(new SpecError(SpecErrorKind.NonPositiveSize, property, $"{property} = {value} must be positive"));
        }
    }
}
