using System.Collections.Generic;

namespace Wudao;

/// <summary>A weight a layer expects: its name in weight files, its shape, and its fan-in for initialisation.</summary>
public sealed class WeightSpec
{
    public WeightSpec(string name, int[] shape, int fanIn)
    {
        Name = name;
        Shape = shape;
        FanIn = fanIn;
    }

    public string Name { get; }

    public IReadOnlyList<int> Shape { get; }

    /// <summary>Inputs feeding each output; initial values are uniform in ±1/sqrt(FanIn), as torch.nn.Linear; 0 means they start at zero (a bias), −1 at one (a norm's scale).</summary>
    public int FanIn { get; }

    public override string ToString() => $"{Name} [{string.Join(", ", Shape)}]";
}
