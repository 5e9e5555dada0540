using System.Collections.Generic;

namespace Wudao;

/// <summary>A weight a layer expects: its name in weight files, its shape, and its fan-in for initialisation.</summary>
public sealed class WeightSpec
{
    /// <summary>A weight named <paramref name="name"/> of <paramref name="shape"/>, initialised by <paramref name="fanIn"/> (see <see cref="FanIn"/>).</summary>
    public WeightSpec(string name, int[] shape, int fanIn)
    {
        Name = name;
        Shape = shape;
        FanIn = fanIn;
    }

    /// <summary>The weight's name in weight files.</summary>
    public string Name { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Inputs feeding each output; initial values are uniform in ±1/sqrt(FanIn), as torch.nn.Linear; 0 means they start at zero (a bias), −1 at one (a norm's scale).</summary>
    public int FanIn { get; }

    /// <summary>The name and shape, e.g. <c>gate.weight [64, 8]</c>.</summary>
    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
