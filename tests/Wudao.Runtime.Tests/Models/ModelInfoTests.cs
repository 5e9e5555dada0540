using Xunit;

namespace Wudao.Runtime.Tests.Models;

/// <summary>A model's <c>Info</c> is read back from its compiled graph: it reports what was declared.</summary>
public sealed class ModelInfoTests
{
    [Fact]
    public void Info_reports_the_declared_sizes_and_blocks()
    {
        var i = TinyLm.Info;
        Assert.Equal(("TinyLm", 97, 64, 2, 80), (i.Name, i.Vocab, i.Dim, i.Layers, i.MaxSequence));
        Assert.Equal((Norm.RmsNorm, 1e-5f, Position.Rope, 10000f), (i.Norm, i.NormEpsilon, i.Position, i.RopeBase));
        Assert.Equal((2, 1, 32, true, false), (i.Heads, i.KvHeads, i.HeadDim, i.Causal, i.QkNorm));

        // Every = 2: block 0 dense (its hidden width defaults to the experts' 48), block 1 MoE.
        Assert.Equal(48, i.DenseHidden);
        Assert.False(i.IsMoe(0));
        Assert.True(i.IsMoe(1));
        Assert.Equal(new[] { "layers.1.moe." }, i.MoePrefixes);
    }

    [Fact]
    public void Info_reports_layer_norm_no_position_and_all_moe_blocks()
    {
        var i = TinyLayerNormLm.Info;
        Assert.Equal((Norm.LayerNorm, Position.None, 2, 2), (i.Norm, i.Position, i.Heads, i.KvHeads));
        Assert.True(i.IsMoe(0) && i.IsMoe(1));
        Assert.Equal(0, i.DenseHidden);
        Assert.True(QkNormTinyLm.Info.QkNorm);
    }
}
