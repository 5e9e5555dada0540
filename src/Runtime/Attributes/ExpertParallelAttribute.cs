using System;

namespace Wudao;

/// <summary>
/// Declares that a layer's experts are spread over <see cref="Ranks"/> ranks: the compiler checks
/// that they divide evenly and prints the expert-parallel schedule (exchanges between the
/// kernels) in the plan. Run it with <c>Wudao.Distributed.ExpertParallelLayer</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class ExpertParallelAttribute : Attribute
{
    /// <summary>Number of ranks; it must divide the number of experts.</summary>
    public int Ranks { get; set; }
}
