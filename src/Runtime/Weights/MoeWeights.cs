using System;
using System.Collections.Generic;
using System.Linq;

namespace Wudao;

/// <summary>
/// The weights of a layer by name (gate.weight [d,E], experts.w1 [E,d,h'], experts.b1 [E,h'],
/// experts.w2 [E,h,d], experts.b2 [E,d]; h' = 2h for SwiGLU, gate half first).
/// </summary>
public sealed class MoeWeights
{
    private readonly Dictionary<string, HostTensor> _tensors = new();

    /// <summary>Indexes <paramref name="tensors"/> by name; throws when a name is given twice.</summary>
    public MoeWeights(IEnumerable<HostTensor> tensors)
    {
        foreach (var t in tensors)
        {
            if (!_tensors.TryAdd(t.Name, t))
            {
                throw new ArgumentException($"weight '{t.Name}' is given twice", nameof(tensors));
            }
        }
    }

    /// <summary>The names of the weights held.</summary>
    public IReadOnlyCollection<string> Names => _tensors.Keys;

    /// <summary>The weight named <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> listing the names held when there is none.</summary>
    public HostTensor this[string name] => _tensors.TryGetValue(name, out var t)
        ? t
        : throw new KeyNotFoundException($"no weight named '{name}' (have: {string.Join(", ", _tensors.Keys)})");

    /// <summary>All-zero tensors named and shaped as <paramref name="specs"/>: gradients before any backward, or optimizer state.</summary>
    public static MoeWeights Zeros(IEnumerable<WeightSpec> specs) =>
        new(specs.Select(s => new HostTensor(s.Name, new float[BufferPool.Elements(s.Shape)], s.Shape.ToArray())));

    /// <summary>Sets every element of every tensor to zero.</summary>
    public void Clear()
    {
        foreach (var t in _tensors.Values)
        {
            Array.Clear(t.Data);
        }
    }

    /// <summary>
    /// Deterministic weights: element i of each tensor is a pure function of (seed, name, i), so
    /// the same seed gives the same layer on every machine and device.
    /// </summary>
    public static MoeWeights Random(MoeLayerInfo info, ulong seed) => Random(info.Weights, seed);

    /// <summary>Deterministic weights for any list of specs (a whole model's, say); see <see cref="Random(MoeLayerInfo, ulong)"/>.</summary>
    public static MoeWeights Random(IEnumerable<WeightSpec> specs, ulong seed)
    {
        var s = new CounterSeed(seed);
        return new MoeWeights(specs.Select(w =>
        {
            var length = w.Shape.Aggregate(1, (a, d) => checked(a * d));
            var data = new float[length];
            // Fan-in 0 marks state that starts at zero (DeepSeek's balancing bias, LayerNorm's β),
            // −1 a scale that starts at one (a norm's γ).
            if (w.FanIn < 0)
            {
                return new HostTensor(w.Name, Enumerable.Repeat(1f, length).ToArray(), w.Shape.ToArray());
            }

            var bound = w.FanIn > 0 ? 1f / MathF.Sqrt(w.FanIn) : 0f;
            var stream = (int)NameHash(w.Name);
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = ((2f * CounterRng.Uniform(s.Lo, s.Hi, stream, i)) - 1f) * bound;
            }

            return new HostTensor(w.Name, data, w.Shape.ToArray());
        }));
    }

    /// <summary>
    /// Reads weights from a safetensors file (F32 or BF16), reporting each tensor read to
    /// <paramref name="progress"/>; check them with <see cref="CheckAgainst(MoeLayerInfo)"/> or by creating a layer.
    /// </summary>
    public static MoeWeights Load(string path, IProgress<WeightLoadProgress>? progress = null, System.Threading.CancellationToken cancellationToken = default) =>
        new(SafeTensors.Load(path, progress, cancellationToken));

    /// <summary>Writes these weights to a safetensors file (F32); loading it back is bit-exact.</summary>
    public void Save(string path) => SafeTensors.Save(path, _tensors.Values);

    /// <summary>Throws naming the tensor, expected and actual shapes, when these weights do not fit the layer.</summary>
    public void CheckAgainst(MoeLayerInfo info) => CheckAgainst(info.Weights, info.Name);

    /// <summary>Throws naming the tensor, expected and actual shapes, when these weights do not match <paramref name="specs"/>.</summary>
    public void CheckAgainst(IReadOnlyList<WeightSpec> specs, string owner)
    {
        foreach (var w in specs)
        {
            if (!_tensors.TryGetValue(w.Name, out var t))
            {
                throw new ArgumentException($"{owner}: weight '{w.Name}' [{string.Join(", ", w.Shape)}] is missing");
            }

            if (!t.Shape.SequenceEqual(w.Shape))
            {
                throw new ArgumentException($"{owner}: weight '{w.Name}' must be [{string.Join(", ", w.Shape)}], got [{string.Join(", ", t.Shape)}]");
            }
        }

        var extra = _tensors.Keys.Except(specs.Select(w => w.Name)).ToList();
        if (extra.Count > 0)
        {
            throw new ArgumentException($"{owner}: unexpected weights {string.Join(", ", extra)}");
        }
    }

    /// <summary>The weights whose names start with <paramref name="prefix"/>, with the prefix removed (one block's MoE layer).</summary>
    public MoeWeights Scope(string prefix) =>
        new(_tensors.Values.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Select(t => new HostTensor(t.Name.Substring(prefix.Length), t.Data, t.Shape.ToArray())));

    private static uint NameHash(string name)
    {
        var h = 2166136261u;
        foreach (var c in name)
        {
            h = (h ^ c) * 16777619u;
        }

        return h;
    }
}
