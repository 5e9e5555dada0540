using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao.Models;

/// <summary>What the compiler knew about a declared transformer, exposed by the generated <c>Info</c> property.</summary>
public sealed class ModelInfo
{
    public ModelInfo(string name, int vocab, int dim, int layers, int maxSequence, Norm norm, float normEpsilon, int heads, int kvHeads, bool causal, Position position, float ropeBase, int denseHidden, MoeLayerInfo moe, WeightSpec[] weights, string[] moePrefixes, string graphText, string planText, bool qkNorm = false)
    {
        QkNorm = qkNorm;
        Name = name;
        Vocab = vocab;
        Dim = dim;
        Layers = layers;
        MaxSequence = maxSequence;
        Norm = norm;
        NormEpsilon = normEpsilon;
        Heads = heads;
        KvHeads = kvHeads;
        Causal = causal;
        Position = position;
        RopeBase = ropeBase;
        DenseHidden = denseHidden;
        Moe = moe;
        Weights = weights;
        MoePrefixes = moePrefixes;
        GraphText = graphText;
        PlanText = planText;
        AllWeights = weights.Concat(moePrefixes.SelectMany(p => moe.Weights.Select(w => new WeightSpec(p + w.Name, w.Shape.ToArray(), w.FanIn)))).ToArray();
    }

    public string Name { get; }

    public int Vocab { get; }

    public int Dim { get; }

    public int Layers { get; }

    public int MaxSequence { get; }

    public Norm Norm { get; }

    public float NormEpsilon { get; }

    public int Heads { get; }

    public int KvHeads { get; }

    public int HeadDim => Dim / Heads;

    public bool Causal { get; }

    public Position Position { get; }

    public float RopeBase { get; }

    /// <summary>Query and key heads are RMS-normalised (own γ per block) before RoPE.</summary>
    public bool QkNorm { get; }

    /// <summary>The dense feed-forward's hidden width; 0 when every block runs the MoE layer.</summary>
    public int DenseHidden { get; }

    /// <summary>The MoE feed-forward's layer (one class, one instance per MoE block).</summary>
    public MoeLayerInfo Moe { get; }

    /// <summary>The model's own weights (embeddings, norms, attention, dense feed-forwards, LM head).</summary>
    public IReadOnlyList<WeightSpec> Weights { get; }

    /// <summary>Name prefix of each MoE block's weights (<c>layers.{i}.moe.</c>).</summary>
    public IReadOnlyList<string> MoePrefixes { get; }

    /// <summary>Every weight a weight file must hold: the model's, then each MoE block's under its prefix.</summary>
    public IReadOnlyList<WeightSpec> AllWeights { get; }

    /// <summary>Block <paramref name="layer"/> runs the MoE feed-forward (its weights sit under <c>layers.{layer}.moe.</c>), not a dense one.</summary>
    public bool IsMoe(int layer) => MoePrefixes.Contains($"layers.{layer}.moe.");

    public string GraphText { get; }

    public string PlanText { get; }

    public long Parameters => AllWeights.Sum(w => w.Shape.Aggregate(1L, (a, d) => a * d));

    public override string ToString() =>
        $"{Name}: vocab {Vocab}, d={Dim}, {Layers} blocks ({Enumerable.Range(0, Layers).Count(IsMoe)} MoE), {Heads} heads / {KvHeads} kv heads of {HeadDim}, {Norm}, {Position}, max sequence {MaxSequence}, {Parameters:N0} parameters";
}
