using System;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Wudao.Runtime.Tests;

/// <summary>
/// An ILGPU context and the test accelerator in it (<see cref="TestAccelerator.Kind"/>), for the
/// tests that load kernels themselves rather than through a <see cref="Session"/>.
/// </summary>
public sealed class TestDevice : IDisposable
{
    private TestDevice(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
    }

    public Context Context { get; }

    public Accelerator Accelerator { get; }

    /// <summary>
    /// Opens the accelerator. On the CPU accelerator <paramref name="cpu"/> shapes its groups
    /// (null: ILGPU's default CPU device, 16 threads a group); a CUDA device takes any group up to
    /// 1024 threads, so it needs no such shape.
    /// </summary>
    public static TestDevice Open(CPUDevice? cpu = null) => Open(TestAccelerator.Kind, cpu);

    /// <summary>Opens <paramref name="kind"/> (cpu or cuda); see <see cref="Open(CPUDevice?)"/>.</summary>
    public static TestDevice Open(DeviceKind kind, CPUDevice? cpu = null)
    {
        if (kind == DeviceKind.Cuda)
        {
            var cuda = Context.Create(b => b.Cuda().EnableAlgorithms());
            try
            {
                var devices = cuda.GetCudaDevices();
                return devices.Count > 0 ? new TestDevice(cuda, devices[0].CreateAccelerator(cuda)) : throw TestAccelerator.NoCuda();
            }
            catch
            {
                cuda.Dispose();
                throw;
            }
        }

        if (kind != DeviceKind.Cpu)
        {
            throw new ArgumentException($"the test accelerator is cpu or cuda, not {kind}", nameof(kind));
        }

        var context = Context.Create(b => (cpu == null ? b.Default() : b.CPU(cpu)).EnableAlgorithms());
        return new TestDevice(context, context.CreateCPUAccelerator(0));
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}
