using System;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// One session on the test accelerator (<see cref="TestAccelerator"/>: ILGPU's CPU accelerator
/// unless the GPU runner asks for CUDA), shared by the kernel suites (creating one costs ~100 ms,
/// and on CUDA every session compiles its kernels again).
/// </summary>
public sealed class AcceleratorSession : IDisposable
{
    public Session Session { get; } = TestAccelerator.OpenSession();

    public void Dispose() => Session.Dispose();
}

[CollectionDefinition(Name)]
public sealed class AcceleratorCollection : ICollectionFixture<AcceleratorSession>
{
    public const string Name = "ilgpu accelerator";
}

/// <summary>One native-CPU-target session with two threads, shared by the native tests.</summary>
public sealed class NativeSession : IDisposable
{
    public Session Session { get; } = Wudao.Session.Create(DeviceKind.Native, threads: 2);

    public void Dispose() => Session.Dispose();
}

[CollectionDefinition(Name)]
public sealed class NativeCollection : ICollectionFixture<NativeSession>
{
    public const string Name = "native cpu";
}
