using System;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Wudao;

/// <summary>
/// Host addresses of buffers that live in CPU memory, so native kernels can read them with refs
/// (no <c>unsafe</c> needed in generated code).
/// </summary>
public static class CpuMemory
{
    /// <summary>A ref to element 0 of a view of CPU memory.</summary>
    public static unsafe ref T Ref<T>(ArrayView<T> view)
        where T : unmanaged => ref Unsafe.AsRef<T>((void*)Address(view));

    /// <summary>A ref to element 0 of a view of CPU memory.</summary>
    public static ref T Ref<T>(ArrayView1D<T, Stride1D.Dense> view)
        where T : unmanaged => ref Ref(view.BaseView);

    // Constrained generic access reaches the view's buffer and offset without boxing it.
    private static IntPtr Address<TView>(TView view)
        where TView : struct, IContiguousArrayView
    {
        if (view.Buffer.AcceleratorType != AcceleratorType.CPU)
        {
            throw new InvalidOperationException($"native CPU kernels need CPU memory, got {view.Buffer.AcceleratorType} memory");
        }

        return view.Buffer.NativePtr + (nint)view.IndexInBytes;
    }
}
