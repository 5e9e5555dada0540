using System;
using System.Reflection;
using Xunit;

namespace Wudao.Runtime.Tests;

/// <summary>
/// A layer's capacity is its route op's, compiled with the factor its IR node holds (token choice
/// over the routed experts and choices, expert choice's C per expert): the same rows the
/// declaration's formula gives, for every router and batch size.
/// </summary>
public sealed class CapacityTests
{
    public static TheoryData<Type> Routers => new()
    {
        typeof(TopK2Gelu), typeof(TopK4Relu), typeof(SwitchRelu), typeof(GShardSilu), typeof(TopK3SwiGlu),
        typeof(NoisyTop3ReluTight), typeof(ExpertChoiceSilu), typeof(ExpertChoiceReluHalf), typeof(HashGeluCapped),
        typeof(DeepSeekSwiGlu), typeof(DeepSeekTwoSharedCapped), typeof(DeepSeekNoShared),
    };

    [Theory]
    [MemberData(nameof(Routers))]
    public void The_compiled_capacity_is_the_declared_formula(Type layer)
    {
        var info = (MoeLayerInfo)layer.GetProperty("Info", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        var capacity = layer.GetNestedType("Kernels")!.GetMethod("Capacity", BindingFlags.Public | BindingFlags.Static)!.CreateDelegate<Func<int, int>>();

        foreach (var tokens in new[] { 0, 1, 2, 3, 7, 13, 37, 100, 1000, 4097 })
        {
            Assert.Equal(Wudao.Runtime.Tests.Reference.MoeReference.Capacity(info, tokens), capacity(tokens));
        }
    }
}
