using System;
using System.Linq;
using System.Reflection;
using Wudao.Models;
using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>
/// The device schedule of a model (weights, activations and KV caches on an ILGPU accelerator),
/// run on the test accelerator (ILGPU's CPU accelerator unless the GPU runner asks for CUDA): the same logits as the native schedule, prefill and decode.
/// </summary>
[Trait(TestAccelerator.Trait, TestAccelerator.Ilgpu)]
public sealed class DeviceModelTests
{
    [Fact]
    public void Device_schedule_matches_the_native_one_through_prefill_and_decode()
    {
        var ids = new[] { 3, 96, 41, 7, 7, 60, 12 };
        float[] nativeFull, nativeStep;
        using (var native = Session.Create(DeviceKind.Native, threads: 2))
        using (var lm = TinyLm.Create(native, seed: 5))
        {
            nativeFull = lm.Forward(ids);
            lm.Reset();
            lm.Step(ids.AsSpan(0, 5));
            nativeStep = lm.Step(ids.AsSpan(5, 1)).Concat(lm.Step(ids.AsSpan(6, 1))).ToArray();
        }

        using var device = TestAccelerator.OpenSession();
        using var dlm = TinyLm.Create(device, seed: 5);
        var full = dlm.Forward(ids);
        Numerics.Close(nativeFull, full, rtol: 1e-4f, atol: 2e-5f, what: "full-pass logits");
        Assert.Equal(ids.Length, dlm.Length);

        dlm.Reset();
        dlm.Step(ids.AsSpan(0, 5));
        var steps = dlm.Step(ids.AsSpan(5, 1)).Concat(dlm.Step(ids.AsSpan(6, 1))).ToArray();
        Numerics.Close(nativeStep, steps, rtol: 1e-4f, atol: 2e-5f, what: "decode logits");
        Assert.Single(dlm.ExpertLoad); // two blocks, MoE every second
        Assert.True(dlm.ExpertLoad[0].Calls > 0);
    }

    /// <summary>The device session samples the logits it reads back with the same emitted sampler: the same tokens for the same seed.</summary>
    [Fact]
    public void Device_generation_draws_the_native_tokens()
    {
        var prompt = new[] { 3, 96, 41 };
        var sampling = new Sampling(Temperature: 0.9f, TopK: 30, TopP: 0.95f, Seed: 4);
        using var native = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLm.Create(native, seed: 5);
        using var device = TestAccelerator.OpenSession();
        using var dlm = TinyLm.Create(device, seed: 5);

        Assert.Equal(lm.Generate(prompt, 6, Sampling.Greedy), dlm.Generate(prompt, 6, Sampling.Greedy));
        Assert.Equal(lm.Generate(prompt, 6, sampling), dlm.Generate(prompt, 6, sampling));
    }

    [Fact]
    public void Layer_norm_model_runs_on_the_device_schedule()
    {
        var ids = new[] { 1, 2, 3, 49 };
        using var native = Session.Create(DeviceKind.Native, threads: 1);
        using var lm = TinyLayerNormLm.Create(native, seed: 2);
        using var device = TestAccelerator.OpenSession();
        using var dlm = TinyLayerNormLm.Create(device, seed: 2);

        Numerics.Close(lm.Forward(ids), dlm.Forward(ids), rtol: 1e-4f, atol: 2e-5f, what: "logits");
        Assert.Throws<ArgumentOutOfRangeException>(() => dlm.Step(new[] { 50 }));
    }

    /// <summary>The norms, GEMMs and QKV split are generated into the model with their widths as constants.</summary>
    [Theory]
    [InlineData(typeof(TinyLm), "RmsNorm", "DeviceEmbed", false)]
    [InlineData(typeof(TinyLm), "RmsNorm", "DeviceAdd", false)]
    [InlineData(typeof(TinyLayerNormLm), "LayerNorm", "DeviceEmbed", false)]
    [InlineData(typeof(TinyLayerNormLm), "LayerNorm", "DeviceAdd", false)]
    [InlineData(typeof(TinyLm), "DeviceLinear", "Device", true)]
    [InlineData(typeof(TinyLm), "DeviceLinear", "Decode", true)]
    [InlineData(typeof(OddGemmLm), "DeviceLinear", "Device", true)]
    [InlineData(typeof(TinyLm), "DeviceSplitQkv", "Device", false)]
    public void Generated_model_kernels_compile_to_ptx(System.Type model, string prefix, string kernel, bool grouped)
    {
        var types = model.GetNestedTypes(BindingFlags.NonPublic).Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(types);
        foreach (var type in types)
        {
            var method = type.GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)!;
            foreach (var arch in new[] { 80, 90 })
            {
                Assert.Contains(".entry", Ptx.Compile(method, grouped, arch), StringComparison.Ordinal);
            }
        }
    }

    /// <summary>
    /// A prefill past the GEMMs' 64-row tile and decode steps under the 8-row threshold, through
    /// GEMMs whose K (24) and N (24, 50) fit no tile: the same logits as the native schedule.
    /// </summary>
    [Fact]
    public void Gemm_widths_off_every_tile_give_the_native_logits_across_both_tiles()
    {
        var ids = Enumerable.Range(0, 72).Select(i => (i * 7) % 50).ToArray();
        float[] nativeFull, nativeStep;
        using (var native = Session.Create(DeviceKind.Native, threads: 2))
        using (var lm = OddGemmLm.Create(native, seed: 3))
        {
            nativeFull = lm.Forward(ids);
            lm.Reset();
            lm.Step(ids.AsSpan(0, 9));
            nativeStep = lm.Step(ids.AsSpan(9, 1));
        }

        using var device = TestAccelerator.OpenSession();
        using var dlm = OddGemmLm.Create(device, seed: 3);
        Numerics.Close(nativeFull, dlm.Forward(ids), rtol: 1e-4f, atol: 2e-5f, what: "72-token logits");
        dlm.Reset();
        dlm.Step(ids.AsSpan(0, 9));
        Numerics.Close(nativeStep, dlm.Step(ids.AsSpan(9, 1)), rtol: 1e-4f, atol: 2e-5f, what: "decode logits");
    }

    /// <summary>The dense feed-forward's activation kernel is generated into the model (from the op registry's formula).</summary>
    [Theory]
    [InlineData(typeof(TinyLm))]
    [InlineData(typeof(GeGluTinyLm))]
    public void Generated_dense_activation_kernels_compile_to_ptx(System.Type model)
    {
        var dense = model.GetNestedTypes(BindingFlags.NonPublic).Where(t => t.Name.StartsWith("Dense", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(dense);
        foreach (var type in dense)
        {
            var method = type.GetMethod("Device", BindingFlags.Public | BindingFlags.Static)!;
            foreach (var arch in new[] { 80, 90 })
            {
                Assert.Contains(".entry", Ptx.Compile(method, grouped: false, arch), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Attention_with_qk_norm_as_its_prologue_compiles_to_ptx()
    {
        // qk_norm is fused into attention: the model holds no kernel of its own for it.
        var nested = typeof(QkNormTinyLm).GetNestedTypes(BindingFlags.NonPublic);
        Assert.DoesNotContain(nested, t => t.Name.StartsWith("QkNorm", StringComparison.Ordinal));
        var type = Assert.Single(nested, t => t.Name == "IlgpuAttention32QkNorm");
        foreach (var kernel in new[] { "Forward", "Append" })
        {
            var method = type.GetMethod(kernel, BindingFlags.Public | BindingFlags.Static)!;
            foreach (var arch in new[] { 80, 90 })
            {
                Assert.Contains(".entry", Ptx.Compile(method, grouped: true, arch), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Qk_norm_model_gives_the_same_logits_on_both_schedules()
    {
        var ids = new[] { 3, 1, 4, 1, 5, 9, 2 };
        var weights = MoeWeights.Random(QkNormTinyLm.Info.AllWeights, 6);
        foreach (var name in weights.Names.Where(n => n.Contains("_norm.weight", StringComparison.Ordinal) && n.Contains(".attn.", StringComparison.Ordinal)))
        {
            var gamma = weights[name].Data;
            for (var d = 0; d < gamma.Length; d++)
            {
                gamma[d] = 0.25f + (0.05f * (d % 13));
            }
        }

        using var native = Session.Create(DeviceKind.Native, threads: 2);
        using var lm = QkNormTinyLm.Create(native, weights, 6);
        using var device = TestAccelerator.OpenSession();
        using var dlm = QkNormTinyLm.Create(device, weights, 6);

        Numerics.Close(lm.Forward(ids), dlm.Forward(ids), rtol: 1e-4f, atol: 2e-5f, what: "logits");
    }

    [Fact]
    public void GeGlu_model_gives_the_same_logits_on_both_schedules()
    {
        var ids = new[] { 3, 1, 4, 1, 5, 9, 2 };
        using var native = Session.Create(DeviceKind.Native, threads: 2);
        using var lm = GeGluTinyLm.Create(native, seed: 5);
        using var device = TestAccelerator.OpenSession();
        using var dlm = GeGluTinyLm.Create(device, seed: 5);

        Numerics.Close(lm.Forward(ids), dlm.Forward(ids), rtol: 1e-4f, atol: 2e-5f, what: "logits");
    }
}
