using System;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>How the device-bound suites are bound to an accelerator, and which tests count as bound.</summary>
public sealed class TestAcceleratorTests
{
    [Theory]
    [InlineData(null, DeviceKind.Cpu)]
    [InlineData("", DeviceKind.Cpu)]
    [InlineData("cpu", DeviceKind.Cpu)]
    [InlineData(" CUDA ", DeviceKind.Cuda)]
    public void The_variable_picks_cpu_by_default_or_cuda(string? value, DeviceKind expected) =>
        Assert.Equal(expected, TestAccelerator.Parse(value));

    [Theory]
    [InlineData("native")]
    [InlineData("gpu")]
    public void Any_other_value_is_refused_naming_the_variable(string value)
    {
        var e = Assert.Throws<ArgumentException>(() => TestAccelerator.Parse(value));

        Assert.Contains($"WUDAO_TEST_ACCELERATOR='{value}'", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Where no CUDA device is (this project's build machines) a CUDA request throws; where one is, it opens it.</summary>
    [Fact]
    [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
    public void A_cuda_request_opens_cuda_or_fails_loudly_never_the_cpu()
    {
        bool present;
        using (var context = Context.Create(b => b.Cuda()))
        {
            present = context.GetCudaDevices().Count > 0;
        }

        if (present)
        {
            using var session = TestAccelerator.OpenSession(DeviceKind.Cuda);
            using var device = TestDevice.Open(DeviceKind.Cuda);
            Assert.Equal(DeviceKind.Cuda, session.Kind);
            Assert.Equal(AcceleratorType.Cuda, device.Accelerator.AcceleratorType);
            return;
        }

        var a = Assert.Throws<InvalidOperationException>(() => TestAccelerator.OpenSession(DeviceKind.Cuda));
        var b = Assert.Throws<InvalidOperationException>(() => TestDevice.Open(DeviceKind.Cuda));
        Assert.Contains("WUDAO_TEST_ACCELERATOR=cuda but ILGPU finds no CUDA device", a.Message, StringComparison.Ordinal);
        Assert.Equal(a.Message, b.Message);
    }

    [Fact]
    public void The_trait_marks_a_test_by_its_method_or_its_class()
    {
        var agreement = typeof(TargetAgreementTests);
        Assert.True(TestAccelerator.Runs(agreement, agreement.GetMethod(nameof(TargetAgreementTests.Native_target_matches_the_ilgpu_kernels))!));
        Assert.False(TestAccelerator.Runs(agreement, agreement.GetMethod(nameof(TargetAgreementTests.Default_session_without_a_gpu_is_the_native_target))!));
        var forward = typeof(IlgpuForwardTests);
        Assert.True(TestAccelerator.Runs(forward, forward.GetMethod(nameof(ForwardTests.Dropless_router_never_drops))!));
        Assert.False(TestAccelerator.Runs(typeof(NativeForwardTests), typeof(NativeForwardTests).GetMethod(nameof(ForwardTests.Dropless_router_never_drops))!));
    }

    /// <summary>The GPU runner picks tests by the trait: a suite bound to an accelerator fixture without it would never run on the GPU.</summary>
    [Fact]
    public void Every_suite_on_an_accelerator_fixture_carries_the_trait()
    {
        var fixtures = new[] { typeof(AcceleratorSession), typeof(IlgpuAttentionFixture) };
        var suites = typeof(TestAccelerator).Assembly.GetExportedTypes()
            .Where(t => !t.IsAbstract && t.GetConstructors().Any(c => c.GetParameters().Any(p => fixtures.Contains(p.ParameterType))))
            .ToList();

        Assert.Contains(typeof(KernelStageTests), suites);
        Assert.All(suites, t => Assert.True(
            t.GetMethods().Where(m => m.GetCustomAttribute<FactAttribute>() != null).All(m => TestAccelerator.Runs(t, m)),
            $"{t.Name} runs on the test accelerator but its tests lack [Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]"));
    }
}
