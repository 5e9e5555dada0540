using System.Collections.Generic;

namespace Wudao;

/// <summary>
/// The native CPU kernels of one generated layer: <see cref="CpuWorkers"/> calls
/// <see cref="Run"/> once per work item of a kernel. Generated code derives from it.
/// </summary>
public abstract class CpuKernelSet
{
    /// <summary>Generated code passes each kernel's role, in kernel order.</summary>
    protected CpuKernelSet(string[] roles)
    {
        Roles = roles;
        ElapsedTicks = new long[roles.Length];
    }

    /// <summary>Each kernel's role in the plan (gate, route, dispatch, expert_ffn, combine).</summary>
    public IReadOnlyList<string> Roles { get; }

    /// <summary>Stopwatch ticks spent in each kernel, summed over every call so far.</summary>
    public long[] ElapsedTicks { get; }

    /// <summary>Runs item <paramref name="item"/> of kernel <paramref name="kernel"/> on worker <paramref name="worker"/>.</summary>
    public abstract void Run(int kernel, int item, int worker);
}
