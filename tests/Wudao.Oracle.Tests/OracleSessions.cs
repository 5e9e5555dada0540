using System;
using Xunit;

namespace Wudao.Oracle.Tests;

/// <summary>
/// The sessions the oracle runs generated layers on: ILGPU's CPU accelerator (the GPU kernels,
/// every thread simulated) and the native CPU target (the same plan as vectorised C#, two threads).
/// </summary>
public sealed class OracleSessions : IDisposable
{
    public Session Cpu { get; } = Session.Create(DeviceKind.Cpu);

    public Session Native { get; } = Session.Create(DeviceKind.Native, threads: 2);

    public Session this[DeviceKind kind] => kind switch
    {
        DeviceKind.Cpu => Cpu,
        DeviceKind.Native => Native,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "the oracle runs on Cpu and Native only"),
    };

    public void Dispose()
    {
        Cpu.Dispose();
        Native.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class OracleCollection : ICollectionFixture<OracleSessions>
{
    public const string Name = "generated layers and libtorch";
}
