namespace Wudao;

/// <summary>Which accelerator a session runs on.</summary>
public enum DeviceKind
{
    /// <summary>Pick the best present: CUDA, then OpenCL, then native CPU code.</summary>
    Auto,

    /// <summary>ILGPU's CPU accelerator: simulates GPU threads; right for checking kernels, slow for models.</summary>
    Cpu,

    /// <summary>The native CPU target: the same plan emitted as vectorised, multi-threaded C#.</summary>
    Native,

    Cuda,

    OpenCL,
}
