using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;

namespace Wudao.Runtime.Tests;

/// <summary>The generated test layers by name, so theories can range over all of them.</summary>
public static class Layers
{
    public static readonly IReadOnlyDictionary<string, (Type Type, MoeLayerInfo Info, Func<Session, ulong, IMoeLayer> Create)> All =
        new Dictionary<string, (Type, MoeLayerInfo, Func<Session, ulong, IMoeLayer>)>
        {
            [nameof(TopK2Gelu)] = (typeof(TopK2Gelu), TopK2Gelu.Info, (s, seed) => TopK2Gelu.Create(s, seed)),
            [nameof(TopK4Relu)] = (typeof(TopK4Relu), TopK4Relu.Info, (s, seed) => TopK4Relu.Create(s, seed)),
            [nameof(SingleExpertSilu)] = (typeof(SingleExpertSilu), SingleExpertSilu.Info, (s, seed) => SingleExpertSilu.Create(s, seed)),
            [nameof(SwitchRelu)] = (typeof(SwitchRelu), SwitchRelu.Info, (s, seed) => SwitchRelu.Create(s, seed)),
            [nameof(GShardSilu)] = (typeof(GShardSilu), GShardSilu.Info, (s, seed) => GShardSilu.Create(s, seed)),
            [nameof(TopK3SwiGlu)] = (typeof(TopK3SwiGlu), TopK3SwiGlu.Info, (s, seed) => TopK3SwiGlu.Create(s, seed)),
            [nameof(TopK2GeGlu)] = (typeof(TopK2GeGlu), TopK2GeGlu.Info, (s, seed) => TopK2GeGlu.Create(s, seed)),
        };

    public static IEnumerable<object[]> Names => All.Keys.Select(k => new object[] { k });

    /// <summary>Every layer with token counts 0, 1 and counts that are no multiple of any tile or group.</summary>
    public static IEnumerable<object[]> NamesAndTokens =>
        All.Keys.SelectMany(k => new[] { 0, 1, 13, 37 }.Select(t => new object[] { k, t }));

    /// <summary>The kernel methods of a generated layer, in plan order.</summary>
    public static IReadOnlyList<(MethodInfo Method, KernelEntryAttribute Entry)> Kernels(Type layer) =>
        layer.GetNestedType("Kernels")!.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Select(m => (m, m.GetCustomAttribute<KernelEntryAttribute>()!))
            .Where(p => p.Item2 != null)
            .OrderBy(p => p.Item2.Index)
            .ToList();

    /// <summary>A compile-time constant of the generated Kernels class (e.g. Meta_kept).</summary>
    public static int Const(Type layer, string name) =>
        (int)layer.GetNestedType("Kernels")!.GetField(name, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
}
