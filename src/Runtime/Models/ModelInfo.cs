using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao.Models;

/// <summary>What the compiler knew about a declared transformer, exposed by the generated <c>Info</c> property.</summary>
public sealed class ModelInfo
{
    /// <summary>Generated code passes what the compiler knew; not for hand-written use.</summary>
    public ModelInfo(string name, int vocab, int dim, int layers, int maxSequence, Norm norm, float normEpsilon, int heads, int kvHeads, bool causal, Position position, float ropeBase, int denseHidden, MoeLayerInfo moe, WeightSpec[] weights, string[] moePrefixes, string graphText, string planText, bool qkNorm = false, string trainPlanText = "")
    {
        TrainPlanText = trainPlanText;
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

    /// <summary>The model's name.</summary>
    public string Name { get; }

    /// <summary>Vocabulary size: token ids are in [0, Vocab).</summary>
    public int Vocab { get; }

    /// <summary>Model width d.</summary>
    public int Dim { get; }

    /// <summary>Transformer blocks.</summary>
    public int Layers { get; }

    /// <summary>Tokens the KV cache holds per sequence.</summary>
    public int MaxSequence { get; }

    /// <summary>Normalisation of the blocks.</summary>
    public Norm Norm { get; }

    /// <summary>ε of the norms.</summary>
    public float NormEpsilon { get; }

    /// <summary>Query heads.</summary>
    public int Heads { get; }

    /// <summary>Key/value heads; equal to <see cref="Heads"/> without grouped-query attention.</summary>
    public int KvHeads { get; }

    /// <summary>Floats per head: Dim / Heads.</summary>
    public int HeadDim => Dim / Heads;

    /// <summary>Whether a token attends only to itself and earlier tokens.</summary>
    public bool Causal { get; }

    /// <summary>How attention knows token positions.</summary>
    public Position Position { get; }

    /// <summary>θ of RoPE's frequencies θ^(−2i/d).</summary>
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

    /// <summary>The graph IR, as the compiler printed it.</summary>
    public string GraphText { get; }

    /// <summary>The fusion plan: kernels, the ops each holds, and each fusion refused with its reason.</summary>
    public string PlanText { get; }

    /// <summary>
    /// The backward the compiler derived for training the model on next-token cross-entropy (saved,
    /// recomputed, graph, kernels), or why it cannot be derived yet. Backward kernels are not emitted yet.
    /// </summary>
    public string TrainPlanText { get; }

    /// <summary>Parameters in <see cref="AllWeights"/>: the sum of their element counts.</summary>
    public long Parameters => AllWeights.Sum(w => w.Shape.Aggregate(1L, (a, d) => a * d));

    /// <summary>The model's sizes, blocks, heads, norm, positions and parameter count in one line.</summary>
    public override string ToString() =>
        $"{Name}: vocab {Vocab}, d={Dim}, {Layers} blocks ({Enumerable.Range(0, Layers).Count(IsMoe)} MoE), {Heads} heads / {KvHeads} kv heads of {HeadDim}, {Norm}, {Position}, max sequence {MaxSequence}, {Parameters:N0} parameters";
}
