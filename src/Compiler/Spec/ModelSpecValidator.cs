using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Spec;

/// <summary>The rules a model declaration must satisfy; its MoE feed-forward is checked as a layer too.</summary>
public static class ModelSpecValidator
{
    public static List<SpecError> Validate(ModelSpec s)
    {
        var errors = new List<SpecError>();
        foreach (var (property, value) in new[] { ("Vocab", s.Vocab), ("Dim", s.Dim), ("Layers", s.Layers), ("MaxSequence", s.MaxSequence), ("Heads", s.Heads), ("KvHeads", s.KvHeads), ("Every", s.Every), ("DenseHidden", s.DenseHidden) })
        {
            if (value <= 0)
            {
                errors.Add(new SpecError(SpecErrorKind.NonPositiveSize, property, $"{property} = {value} must be positive"));
            }
        }

        if (s.Heads > 0 && s.Dim > 0 && s.Dim % s.Heads != 0)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "Heads", $"Dim = {s.Dim} does not split into Heads = {s.Heads} equal heads"));
        }
        else if (s.Heads > 0 && s.Dim > 0 && s.HeadDim % ModelSpec.HeadDimMultiple != 0)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "Heads", $"head dimension Dim / Heads = {s.HeadDim} is not a multiple of {ModelSpec.HeadDimMultiple}: the attention kernels work in whole 256-bit vectors"));
        }

        if (s.Heads > 0 && s.KvHeads > 0 && s.Heads % s.KvHeads != 0)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "KvHeads", $"KvHeads = {s.KvHeads} must divide Heads = {s.Heads} (each key/value head serves Heads / KvHeads query heads)"));
        }

        if (s.Position == PositionKind.Rope && s.HeadDim % 2 != 0)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "Position", $"RoPE rotates pairs of dimensions: the head dimension {s.HeadDim} must be even"));
        }

        if (!(s.NormEpsilon > 0f) || float.IsInfinity(s.NormEpsilon))
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "NormEpsilon", $"NormEpsilon = {s.NormEpsilon} must be a small positive number"));
        }

        if (!(s.RopeBase > 1f) || float.IsInfinity(s.RopeBase))
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "RopeBase", $"RopeBase = {s.RopeBase} must be greater than 1"));
        }

        if (s.Norm is not (NormKind.RmsNorm or NormKind.LayerNorm))
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidModelShape, "Norm", $"norm value {(int)s.Norm} is not one of RmsNorm, LayerNorm"));
        }

        if (s.Moe.Router == RouterKind.Hash && s.Moe.Vocab != s.Vocab)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "Vocab", $"hash routing inside the model routes by the model's token ids: its Vocab ({s.Moe.Vocab}) must be the model's Vocab ({s.Vocab}), or left unset"));
        }

        if (s.Moe.Router == RouterKind.ExpertChoice)
        {
            errors.Add(new SpecError(SpecErrorKind.InvalidRouterCombination, "Router", "expert choice ranks each token against every other token of the batch, later ones included: a causal model could see the future, and decoding one token at a time would route differently from the full pass; use a token-choice router"));
        }

        // The feed-forward's own rules (Experts, TopK, Hidden, router options), reported as they
        // are; a non-positive Dim is already reported above, a too-large one only there.
        errors.AddRange(SpecValidator.Validate(s.Moe).Where(e => !(e.Property == "Dim" && e.Kind == SpecErrorKind.NonPositiveSize)));
        return errors;
    }
}
