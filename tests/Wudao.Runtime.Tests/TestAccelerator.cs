using System;
using System.Linq;
using System.Reflection;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// The ILGPU accelerator the device-bound suites run on, from WUDAO_TEST_ACCELERATOR: <c>cpu</c>
/// (the default: ILGPU's CPU accelerator, every GPU thread simulated) or <c>cuda</c> (the first
/// CUDA device; tests/Wudao.GpuRunner sets it). Each suite is written once and bound here, as
/// ILGPU's own tests bind theirs by fixture. Asking for CUDA where there is none throws: a CUDA
/// run that quietly ran on the CPU would report kernels as tested that never ran on a GPU.
/// </summary>
public static class TestAccelerator
{
    /// <summary>The environment variable that picks the accelerator.</summary>
    public const string Variable = "WUDAO_TEST_ACCELERATOR";

    /// <summary>
    /// The trait (name and value) on every test class or method that runs on the test accelerator:
    /// the GPU runner runs exactly these, and <c>dotnet test --filter accelerator=ilgpu</c> does too.
    /// </summary>
    public const string Trait = "accelerator";

    /// <inheritdoc cref="Trait"/>
    public const string Ilgpu = "ilgpu";

    /// <summary>The accelerator asked for: <see cref="DeviceKind.Cpu"/> or <see cref="DeviceKind.Cuda"/>.</summary>
    public static DeviceKind Kind => Parse(Environment.GetEnvironmentVariable(Variable));

    /// <summary>Reads the variable's value; unset or empty is <c>cpu</c>, anything but cpu and cuda throws.</summary>
    public static DeviceKind Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "cpu" => DeviceKind.Cpu,
        "cuda" => DeviceKind.Cuda,
        _ => throw new ArgumentException($"{Variable}='{value}' is not one of cpu, cuda"),
    };

    /// <summary>A session on the asked-for accelerator; throws when it is CUDA and no CUDA device is present.</summary>
    public static Session OpenSession() => OpenSession(Kind);

    /// <summary>
    /// A session on <paramref name="kind"/>, the test accelerator's or the native target's (with
    /// <paramref name="threads"/>); throws when it is CUDA and no CUDA device is present.
    /// </summary>
    public static Session OpenSession(DeviceKind kind, int threads = 0)
    {
        try
        {
            return Session.Create(kind, threads);
        }
        catch (InvalidOperationException e) when (kind == DeviceKind.Cuda)
        {
            throw NoCuda(e);
        }
    }

    /// <summary>Whether a test runs on the test accelerator: its method or its class carries the accelerator trait.</summary>
    public static bool Runs(Type testClass, MethodInfo method)
    {
        ArgumentNullException.ThrowIfNull(testClass);
        ArgumentNullException.ThrowIfNull(method);
        return IsMarked(method) || IsMarked(testClass);
    }

    // xunit 2's TraitAttribute keeps its name and value only as constructor arguments.
    private static bool IsMarked(MemberInfo member) => member.CustomAttributes.Any(a =>
        a.AttributeType == typeof(TraitAttribute) && a.ConstructorArguments is [{ Value: Trait }, { Value: Ilgpu }]);

    /// <summary>The error for a CUDA request on a machine without a CUDA device.</summary>
    internal static InvalidOperationException NoCuda(Exception? inner = null) =>
        new($"{Variable}=cuda but ILGPU finds no CUDA device (driver and GPU visible?); not falling back to the CPU accelerator", inner);
}
