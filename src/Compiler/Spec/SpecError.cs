namespace Wudao.Compiler.Spec;

/// <summary>What is wrong with a declaration; the generator maps each kind to a stable diagnostic id.</summary>
public enum SpecErrorKind
{
    NonPositiveSize,
    TopKExceedsExperts,
    UnsupportedActivation,
    UnsupportedRouterOption,
    SizeTooLarge,
    UnevenPartition,
    InvalidRouterCombination,
    InvalidModelShape,
}

/// <summary>One problem in a declaration, naming the attribute property at fault.</summary>
/// <param name="Kind">The kind of problem.</param>
/// <param name="Property">The attribute property (e.g. "TopK"), for the diagnostic's location.</param>
/// <param name="Message">A message naming the value and what is allowed.</param>
public sealed record SpecError(SpecErrorKind Kind, string Property, string Message);
