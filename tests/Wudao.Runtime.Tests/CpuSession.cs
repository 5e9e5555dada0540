using System;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>One CPU-accelerator session shared by the kernel tests (creating one costs ~100 ms).</summary>
public sealed class CpuSession : IDisposable
{
    public Session Session { get; } = Wudao.Session.Create(DeviceKind.Cpu);

    public void Dispose() => Session.Dispose();
}

[CollectionDefinition(Name)]
public sealed class CpuCollection : ICollectionFixture<CpuSession>
{
    public const string Name = "cpu accelerator";
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
