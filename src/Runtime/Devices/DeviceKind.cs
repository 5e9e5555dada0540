namespace Wudao;

/// <summary>Which accelerator a session runs on.</summary>
public enum DeviceKind
{
    /// <summary>Pick the best present: CUDA, then OpenCL, then the CPU accelerator.</summary>
    Auto,

    /// <summary>ILGPU's CPU accelerator: simulates GPU threads; right for checking kernels, slow for models.</summary>
    Cpu,

    Cuda,

    OpenCL,
}
