using System;

namespace Wudao;

/// <summary>Marks a generated kernel method with its place in the plan, so tools and tests can find every kernel.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class KernelEntryAttribute : Attribute
{
    /// <summary>Records a kernel's launch order, role and whether it is grouped.</summary>
    public KernelEntryAttribute(int index, string role, bool grouped)
    {
        Index = index;
        Role = role;
        Grouped = grouped;
    }

    /// <summary>Launch order in the plan.</summary>
    public int Index { get; }

    /// <summary>gate, route, dispatch, expert_ffn or combine.</summary>
    public string Role { get; }

    /// <summary>True when the kernel is explicitly grouped (shared memory, barriers).</summary>
    public bool Grouped { get; }
}
