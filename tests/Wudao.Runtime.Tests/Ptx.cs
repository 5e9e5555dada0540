using System.Reflection;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Wudao.Runtime.Tests;

/// <summary>Compiles a kernel to PTX with ILGPU's backend, which needs no GPU (and no ptxas: the PTX is produced, not assembled).</summary>
public static class Ptx
{
    /// <summary>The PTX of <paramref name="method"/> for sm_80 or sm_90 (80 or 90).</summary>
    public static string Compile(MethodInfo method, bool grouped, int arch)
    {
        var architecture = arch == 80 ? CudaArchitecture.SM_80 : CudaArchitecture.SM_90;
        var isa = arch == 80 ? CudaInstructionSet.ISA_80 : CudaInstructionSet.ISA_81;
        using var context = Context.Create(b => b.Default().EnableAlgorithms());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, isa, nvvmAPI: null);
        var description = grouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        return ((PTXCompiledKernel)backend.Compile(description, KernelSpecialization.Empty)).PTXAssembly;
    }
}
