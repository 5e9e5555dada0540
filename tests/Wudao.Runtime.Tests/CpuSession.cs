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
