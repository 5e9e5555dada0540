using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// A model's ILGPU kernel that is a static method of one of its nested classes (norms, the dense
/// MLP's activation, qk_norm, the GEMMs): the field holding its loaded delegate and its load, once
/// per session. Implicitly grouped kernels take an index; explicitly grouped ones (shared memory,
/// barriers) a <c>KernelConfig</c>.
/// </summary>
internal static class NestedDeviceKernel
{
    /// <summary>A kernel <c>{cls}.Device</c> over <paramref name="views"/> float views.</summary>
    public static string Field(string cls, int views) => Field(cls, Enumerable.Repeat("global::ILGPU.ArrayView<float>", views).ToArray());

    public static string Load(string cls, int views, string model) => Load(cls, $"{cls}.Device", Enumerable.Repeat("global::ILGPU.ArrayView<float>", views).ToArray(), model);

    /// <summary>The field <c>_k{name}</c> of a kernel whose parameters after the index are <paramref name="parameters"/>.</summary>
    public static string Field(string name, IReadOnlyList<string> parameters) => $"private readonly global::System.Action<{Types(parameters)}>? _k{name};";

    /// <summary>The key names the model class and the kernel, so each loads once per session.</summary>
    public static string Load(string name, string method, IReadOnlyList<string> parameters, string model) =>
        $"_k{name} = session.Kernel(typeof({model}).AssemblyQualifiedName + \".{name}\", a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedStreamKernel<{Types(parameters)}>(a, {method}));";

    /// <summary>The field <c>_k{name}</c> of an explicitly grouped kernel.</summary>
    public static string GroupedField(string name, IReadOnlyList<string> parameters) =>
        $"private readonly global::System.Action<global::ILGPU.KernelConfig, {string.Join(", ", parameters)}>? _k{name};";

    public static string GroupedLoad(string name, string method, IReadOnlyList<string> parameters, string model) =>
        $"_k{name} = session.Kernel(typeof({model}).AssemblyQualifiedName + \".{name}\", a => global::ILGPU.Runtime.KernelLoaders.LoadStreamKernel<{string.Join(", ", parameters)}>(a, {method}));";

    private static string Types(IReadOnlyList<string> parameters) => string.Join(", ", new[] { "global::ILGPU.Index1D" }.Concat(parameters));
}
