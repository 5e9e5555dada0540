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

    /// <summary>The per-call scalar arguments (token count, capacity, seed, step).</summary>
    Args,
}

/// <summary>One kernel parameter: its C# type and what it binds to.</summary>
/// <param name="Kind">What the launcher passes.</param>
/// <param name="Value">IR value for inputs, weights and buffers; empty otherwise.</param>
/// <param name="CsType">The parameter's C# type.</param>
/// <param name="Name">The parameter's name in the kernel.</param>
public sealed record KernelParam(BindingKind Kind, string Value, string CsType, string Name);

/// <summary>A kernel's emitted method and how to launch it.</summary>
public sealed class EmittedKernel
{
    public EmittedKernel(int index, IterationSpace space, string role, string method, bool grouped, IReadOnlyList<KernelParam> parameters, string body, IReadOnlyDictionary<string, string> facts, string helper = "")
    {
        Helper = helper;
        Facts = facts;
        Index = index;
        Space = space;
        Role = role;
        Method = method;
        Grouped = grouped;
        Parameters = parameters;
        Body = body;
    }

    public int Index { get; }

    /// <summary>What the kernel's threads cover; decides its launch extent.</summary>
    public IterationSpace Space { get; }

    public string Role { get; }

    public string Method { get; }

    /// <summary>Explicitly grouped (uses shared memory and barriers) or one thread per element.</summary>
    public bool Grouped { get; }

    public IReadOnlyList<KernelParam> Parameters { get; }

    public string Body { get; }

    /// <summary>
    /// What the template decided from the kernel's ops (statistics offsets, activation, optional
    /// steps), so the CPU schedule of the same kernel makes the same choices.
    /// </summary>
    public IReadOnlyDictionary<string, string> Facts { get; }

    /// <summary>Members the kernel calls (a per-token method both targets share), emitted next to it; empty if none.</summary>
    public string Helper { get; }
}
