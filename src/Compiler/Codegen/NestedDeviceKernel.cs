using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// A model's nested class with a static <c>Device(Index1D, views…)</c> kernel (the dense MLP's
/// activation, qk_norm): the field holding its loaded delegate and its load, once per session.
/// </summary>
internal static class NestedDeviceKernel
{
    public static string Field(string cls, int views) => $"private readonly global::System.Action<{Types(views)}>? _k{cls};";

    /// <summary>The key names the model class and the nested class, so each loads once per session.</summary>
    public static string Load(string cls, int views, string model) =>
        $"_k{cls} = session.Kernel(typeof({model}).AssemblyQualifiedName + \".{cls}\", a => global::ILGPU.Runtime.KernelLoaders.LoadAutoGroupedStreamKernel<{Types(views)}>(a, {cls}.Device));";

    private static string Types(int views) => string.Join(", ", new[] { "global::ILGPU.Index1D" }.Concat(Enumerable.Repeat("global::ILGPU.ArrayView<float>", views)));
}
