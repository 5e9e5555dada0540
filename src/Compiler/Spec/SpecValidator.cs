using System.Collections.Generic;

namespace Wudao.Compiler.Spec;

/// <summary>The rules a declaration must satisfy before lowering; all problems are reported, not just the first.</summary>
public static class SpecValidator
{
    /// <summary>Largest Dim whose one-row expert tile fits the kernel's shared-memory budget.</summary>
    public const int MaxDim = 8192;

    /// <summary>Most experts the route kernel's shared-memory counters hold (8 bytes each).</summary>
    public const int MaxExperts = 4096;

    public static List<SpecError> Validate(MoeLayerSpec s)
    {
        var errors = new List<SpecError>();
        Positive(errors, "Dim", s.Dim);
        Positive(errors, "Experts", s.Experts);
        Positive(errors, "TopK", s.TopK);
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

        if (s.Activation < ActivationKind.Gelu || s.Activation > ActivationKind.SwiGlu)
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedActivation, "Activation", $"activation value {(int)s.Activation} is not one of Gelu, Relu, Silu, SwiGlu"));
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
            case RouterKind.TopK or RouterKind.Switch or RouterKind.GShard:
                break;
            default:
                errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "Router", $"router value {(int)s.Router} is not one of TopK, Switch, GShard"));
                break;
        }

        if (!(s.CapacityFactor >= 0f) || float.IsInfinity(s.CapacityFactor))
        {
            errors.Add(new SpecError(SpecErrorKind.UnsupportedRouterOption, "CapacityFactor", $"CapacityFactor = {s.CapacityFactor} must be a finite number >= 0 (0 means dropless)"));
        }

        if (s.Ranks < 0)
        {
            errors.Add(new SpecError(SpecErrorKind.NonPositiveSize, "Ranks", $"Ranks = {s.Ranks} must be positive"));
        }
        else if (s.Ranks > 0 && s.Experts > 0 && s.Experts % s.Ranks != 0)
        {
            errors.Add(new SpecError(SpecErrorKind.UnevenPartition, "Ranks", $"Experts = {s.Experts} cannot be split evenly over Ranks = {s.Ranks}; use a rank count that divides the expert count"));
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

    private static void Positive(List<SpecError> errors, string property, int value)
    {
        if (value <= 0)
        {
            errors.Add(new SpecError(SpecErrorKind.NonPositiveSize, property, $"{property} = {value} must be positive"));
        }
    }
}
