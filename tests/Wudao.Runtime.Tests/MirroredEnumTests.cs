using System;
using System.Linq;
using Wudao.Compiler.Ir;
using Xunit;
using Spec = Wudao.Compiler.Spec;

namespace Wudao.Runtime.Tests;

/// <summary>
/// The enums users write in attributes live in the runtime; the generator reads their values into
/// the compiler's copies (it cannot reference the runtime). These fail when the copies diverge.
/// </summary>
public class MirroredEnumTests
{
    [Fact]
    public void Activation_members_are_the_registry_entries()
    {
        var runtime = Members(typeof(Activation));
        Assert.Equal(runtime, Members(typeof(Spec.ActivationKind)));
        Assert.Equal(runtime, Activations.All.Select(a => (a.Kind, a.Value)).OrderBy(m => m.Value).ToArray());
        foreach (var a in Activations.All)
        {
            Assert.True(Ops.Get(a.Op).Activation == a, $"{a.Op} is registered as its activation's op");
        }
    }

    [Fact]
    public void Router_norm_and_position_enums_match_the_compiler()
    {
        Assert.Equal(Members(typeof(RouterKind)), Members(typeof(Spec.RouterKind)));
        Assert.Equal(Members(typeof(Norm)), Members(typeof(Spec.NormKind)));
        Assert.Equal(Members(typeof(Position)), Members(typeof(Spec.PositionKind)));
    }

    private static (string Name, int Value)[] Members(Type e) =>
        Enum.GetValues(e).Cast<object>().Select(v => (Enum.GetName(e, v)!, Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture))).OrderBy(m => m.Item2).ToArray();
}
