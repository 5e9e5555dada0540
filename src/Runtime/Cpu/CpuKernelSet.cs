namespace Wudao;

/// <summary>
/// The native CPU kernels of one generated layer: <see cref="CpuWorkers"/> calls
/// <see cref="Run"/> once per work item of a kernel. Generated code derives from it.
/// </summary>
public abstract class CpuKernelSet
{
    /// <summary>Runs item <paramref name="item"/> of kernel <paramref name="kernel"/> on worker <paramref name="worker"/>.</summary>
    public abstract void Run(int kernel, int item, int worker);
}
