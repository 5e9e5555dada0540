using System;
using System.Collections.Concurrent;
using System.Linq;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Wudao;

/// <summary>
/// One accelerator and what lives on it: the buffer pool, loaded kernels, uploaded tensors.
/// <c>Session.Create()</c> picks CUDA, then OpenCL, then native CPU code; the environment
/// variable WUDAO_DEVICE (native, cpu, cuda, opencl) or an explicit kind overrides. The native
/// target keeps its tensors in CPU memory (ILGPU's CPU buffers) and runs the emitted CPU kernels
/// on <see cref="Workers"/>; WUDAO_THREADS sets their number.
/// </summary>
public sealed class Session : IDisposable
{
    private readonly ConcurrentDictionary<string, object> _kernels = new();
    private bool _disposed;

    private Session(Context context, Accelerator accelerator, DeviceKind kind, int threads)
    {
        Context = context;
        Accelerator = accelerator;
        Kind = kind;
        Pool = new BufferPool(accelerator);
        Workers = kind == DeviceKind.Native ? new CpuWorkers(threads) : null;
    }

    /// <summary>The ILGPU context that owns <see cref="Accelerator"/>.</summary>
    public Context Context { get; }

    /// <summary>The accelerator kernels run on and tensors live on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The target the session runs (never <see cref="DeviceKind.Auto"/>: Auto is resolved at creation).</summary>
    public DeviceKind Kind { get; }

    /// <summary>Device memory reused across calls; its counters show whether a call allocated.</summary>
    public BufferPool Pool { get; }

    /// <summary>The threads of the native CPU target; null on other targets.</summary>
    public CpuWorkers? Workers { get; }

    /// <summary>Human-readable device name.</summary>
    public string DeviceName => Kind == DeviceKind.Native
        ? $"Native CPU: {Environment.ProcessorCount} cores, {Workers!.Threads} threads, {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "256-bit SIMD" : "portable SIMD")}"
        : $"{Kind}: {Accelerator.Name}";

    /// <summary>
    /// The device and the threads that run it, e.g. <c>Session: Native CPU: 2 cores, 2 threads, AVX-512</c>
    /// or <c>Session: Cuda: NVIDIA H200, 132 multiprocessors × 2048 threads</c>.
    /// </summary>
    public override string ToString() => _disposed ? $"Session: {Kind} (disposed)"
        : Kind == DeviceKind.Native ? "Session: " + DeviceName
        : $"Session: {DeviceName}, {Accelerator.NumMultiprocessors} multiprocessors × {Accelerator.MaxNumThreadsPerMultiprocessor} threads";

    /// <summary>Opens a session; <paramref name="threads"/> (native target only) defaults to WUDAO_THREADS or the core count.</summary>
    public static Session Create(DeviceKind kind = DeviceKind.Auto, int threads = 0)
    {
        if (kind == DeviceKind.Auto)
        {
            kind = ParseEnvironment(Environment.GetEnvironmentVariable("WUDAO_DEVICE"));
        }

        if (threads <= 0)
        {
            var env = Environment.GetEnvironmentVariable("WUDAO_THREADS");
            threads = string.IsNullOrWhiteSpace(env) ? Environment.ProcessorCount
                : int.TryParse(env, out var n) && n > 0 ? n : throw new ArgumentException($"WUDAO_THREADS='{env}' is not a positive whole number");
        }

        var context = Context.Create(b => b.Default().EnableAlgorithms().Optimize(OptimizationLevel.O1));
        try
        {
            var (accelerator, chosen) = Open(context, kind);
            return new Session(context, accelerator, chosen, threads);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Uploads a host array as a tensor of the given shape.</summary>
    public DeviceTensor Upload(ReadOnlySpan<float> data, params int[] shape)
    {
        // Checked before renting: a wrong shape must not allocate what it claims.
        var elements = BufferPool.Elements(shape);
        if (elements != data.Length)
        {
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {elements} elements but {data.Length} were given", nameof(data));
        }

        var tensor = Pool.RentTensor(shape);
        tensor.View.BaseView.CopyFromCPU(Accelerator.DefaultStream, data);
        return tensor;
    }

    /// <summary>Uploads a named host tensor.</summary>
    public DeviceTensor Upload(HostTensor tensor) => Upload(tensor.Data, tensor.Shape.ToArray());

    /// <summary>Loads a kernel once per session and returns the cached delegate afterwards.</summary>
    public T Kernel<T>(string key, Func<Accelerator, T> load)
        where T : class => (T)_kernels.GetOrAdd(key, _ => load(Accelerator));

    /// <summary>Stops the workers and frees the pool, the accelerator and the context; later calls do nothing.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Workers?.Dispose();
        Pool.Dispose();
        Accelerator.Dispose();
        Context.Dispose();
    }

    private static DeviceKind ParseEnvironment(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => DeviceKind.Auto,
        "cpu" => DeviceKind.Cpu,
        "native" => DeviceKind.Native,
        "cuda" => DeviceKind.Cuda,
        "opencl" => DeviceKind.OpenCL,
        _ => throw new ArgumentException($"WUDAO_DEVICE='{value}' is not one of auto, native, cpu, cuda, opencl"),
    };

    private static (Accelerator, DeviceKind) Open(Context context, DeviceKind kind)
    {
        switch (kind)
        {
            case DeviceKind.Cpu:
            case DeviceKind.Native:
                // The native target keeps its memory in the CPU accelerator's buffers.
                return (context.CreateCPUAccelerator(0), kind);
            case DeviceKind.Cuda:
                var cuda = context.GetCudaDevices();
                return cuda.Count > 0
                    ? (cuda[0].CreateAccelerator(context), DeviceKind.Cuda)
                    : throw new InvalidOperationException("WUDAO_DEVICE asks for CUDA but no CUDA device is present");
            case DeviceKind.OpenCL:
                var cl = context.GetCLDevices();
                return cl.Count > 0
                    ? (cl[0].CreateAccelerator(context), DeviceKind.OpenCL)
                    : throw new InvalidOperationException("WUDAO_DEVICE asks for OpenCL but no OpenCL device is present");
            default:
                if (context.GetCudaDevices().Count > 0)
                {
                    return Open(context, DeviceKind.Cuda);
                }

                return context.GetCLDevices().Count > 0 ? Open(context, DeviceKind.OpenCL) : Open(context, DeviceKind.Native);
        }
    }
}
