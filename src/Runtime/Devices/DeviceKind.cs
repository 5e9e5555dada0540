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

    /// <summary>An NVIDIA GPU through ILGPU's CUDA backend.</summary>
    Cuda,

    /// <summary>A GPU through ILGPU's OpenCL backend.</summary>
    OpenCL,
}
