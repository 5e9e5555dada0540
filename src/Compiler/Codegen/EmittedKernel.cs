using System.Collections.Generic;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Codegen;

/// <summary>What a kernel parameter binds to at launch.</summary>
public enum BindingKind
{
    /// <summary>A graph input tensor.</summary>
    Input,

    /// <summary>A weight tensor.</summary>
    Weight,

    /// <summary>A device buffer of a materialized value.</summary>
    Buffer,

    /// <summary>The fixed-size statistics block read back once per call.</summary>
    Meta,

    /// <summary>
    /// Every rank's route partials, [ranks, PartialsLength] ints, which the route's slot phase
    /// reads; on one rank, the partials the route wrote into the meta block.
    /// </summary>
    Partials,

    /// <summary>The per-call scalar arguments (token count, capacity, seed, step).</summary>
    Args,
}

/// <summary>One kernel parameter: its C# type and what it binds to.</summary>
/// <param name="Kind">What the launcher passes.</param>
/// <param name="Value">IR value for inputs, weights and buffers; empty otherwise.</param>
/// <param name="CsType">The parameter's C# type.</param>
/// <param name="Name">The parameter's name in the kernel.</param>
public sealed record KernelParam(BindingKind Kind, string Value, string CsType, string Name);

/// <summary>An ILGPU kernel: its reading (bindings, role, method) and the body assembled for it.</summary>
public sealed class EmittedKernel
{
    public EmittedKernel(KernelReading reading, bool grouped, string body)
    {
        Reading = reading;
        Grouped = grouped;
        Body = body;
    }

    public KernelReading Reading { get; }

    public int Index => Reading.Index;

    /// <summary>What the kernel's threads cover; decides its launch extent.</summary>
    public IterationSpace Space => Reading.Space;

    public string Role => Reading.Role;

    public string Method => Reading.Method;

    /// <summary>Explicitly grouped (uses shared memory and barriers) or one thread per element.</summary>
    public bool Grouped { get; }

    public IReadOnlyList<KernelParam> Parameters => Reading.Parameters;

    public string Body { get; }
}
