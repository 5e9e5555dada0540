using System;
using System.Runtime.InteropServices;

namespace Wudao.Benchmarks;

/// <summary>Process settings that native libraries read from libc, not from .NET's environment copy.</summary>
internal static partial class NativeEnvironment
{
    private const int MallocMmapMax = -4;

    public static void Prepare()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // OpenMP (libgomp) reads OMP_WAIT_POLICY when it initialises, after this point.
        if (SetEnv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
        {
            Console.Error.WriteLine("warning: could not set OMP_WAIT_POLICY; libtorch threads may spin");
        }

        // No mmap for big allocations: libtorch's large tensors are reused, not re-faulted.
        if (MallOpt(MallocMmapMax, 0) != 1)
        {
            Console.Error.WriteLine("warning: mallopt(M_MMAP_MAX, 0) failed; libtorch timings may include page faults");
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int param, int value);
}
