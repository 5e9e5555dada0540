using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Wudao.Models;
using Wudao.Runtime.Tests;
using Xunit;
using Xunit.Abstractions;

namespace Wudao.Oracle.Tests;

/// <summary>A generated model seen through what the oracle tests call on it.</summary>
public sealed class DeclaredModel : IDisposable
{
    private readonly IDisposable _model;

    public DeclaredModel(ICausalLm model, IDisposable disposable, Func<int[], float[]> forward, Func<int[], int, Sampling, int[]> generate, MoeWeights weights, MoeStatsAccumulator[] expertLoad)
    {
        Lm = model;
        _model = disposable;
        Forward = forward;
        Generate = generate;
        Weights = weights;
        ExpertLoad = expertLoad;
    }

    public ICausalLm Lm { get; }

    public Func<int[], float[]> Forward { get; }

    public Func<int[], int, Sampling, int[]> Generate { get; }

    public MoeWeights Weights { get; }

    public MoeStatsAccumulator[] ExpertLoad { get; }

    public void Dispose() => _model.Dispose();
}

/// <summary>The models under test, each with its seed (weights and routing) and its generated factories.</summary>
public static class ModelOracleCases
{
    public sealed record Entry(ModelInfo Info, ulong Seed, Func<Session, ulong, DeclaredModel> Create, Func<Session, string, ulong, DeclaredModel> Load);

    public static readonly IReadOnlyDictionary<string, Entry> All = new Dictionary<string, Entry>
    {
        [nameof(OracleGqaSwiGluLm)] = new(OracleGqaSwiGluLm.Info, 31, (s, seed) => Wrap(OracleGqaSwiGluLm.Create(s, seed)), (s, path, seed) => Wrap(OracleGqaSwiGluLm.Load(s, path, seed))),
        [nameof(OracleLayerNormGeluLm)] = new(OracleLayerNormGeluLm.Info, 32, (s, seed) => Wrap(OracleLayerNormGeluLm.Create(s, seed)), (s, path, seed) => Wrap(OracleLayerNormGeluLm.Load(s, path, seed))),
        [nameof(OracleGeGluLm)] = new(OracleGeGluLm.Info, 34, (s, seed) => Wrap(OracleGeGluLm.Create(s, seed)), (s, path, seed) => Wrap(OracleGeGluLm.Load(s, path, seed))),
        [nameof(OracleQkNormLm)] = new(OracleQkNormLm.Info, 35, (s, seed) => Wrap(OracleQkNormLm.Create(s, WithQkGammas(OracleQkNormLm.Info, seed), seed)), (s, path, seed) => Wrap(OracleQkNormLm.Load(s, path, seed))),
        [nameof(OracleMhaAllMoeLm)] = new(OracleMhaAllMoeLm.Info, 33, (s, seed) => Wrap(OracleMhaAllMoeLm.Create(s, seed)), (s, path, seed) => Wrap(OracleMhaAllMoeLm.Load(s, path, seed))),
        [nameof(OracleHeadDim80Lm)] = new(OracleHeadDim80Lm.Info, 36, (s, seed) => Wrap(OracleHeadDim80Lm.Create(s, seed)), (s, path, seed) => Wrap(OracleHeadDim80Lm.Load(s, path, seed))),
    };

    public static readonly int[] Lengths = { 1, 7, 33 };

    /// <summary>Random weights with the q/k norms' γ away from their initial ones, so the test sees γ applied (and to the right heads).</summary>
    private static MoeWeights WithQkGammas(ModelInfo info, ulong seed)
    {
        var weights = MoeWeights.Random(info.AllWeights, seed);
        foreach (var name in weights.Names.Where(n => n.EndsWith("_norm.weight", StringComparison.Ordinal) && n.Contains(".attn.", StringComparison.Ordinal)))
        {
            var gamma = weights[name].Data;
            for (var d = 0; d < gamma.Length; d++)
            {
                gamma[d] = 0.5f + (0.1f * ((d * 7 + name.Length) % 11));
            }
        }

        return weights;
    }

    public static IEnumerable<object[]> Names => All.Keys.Select(k => new object[] { k });

    public static IEnumerable<object[]> NamesAndLengths => All.Keys.SelectMany(k => Lengths.Select(t => new object[] { k, t }));

    /// <summary>Per model, one weight of its own and one of a MoE block's, for the wrong-shape test.</summary>
    public static IEnumerable<object[]> NamesAndWeights =>
        All.Select(kv => (kv.Key, kv.Value.Info)).SelectMany(m => new[]
        {
            new object[] { m.Key, "layers.0.attn.qkv.weight" },
            new object[] { m.Key, m.Info.MoePrefixes[^1] + "experts.w1" },
        });

    private static DeclaredModel Wrap(OracleGqaSwiGluLm m) => new(m, m, ids => m.Forward(ids), (p, n, s) => m.Generate(p, n, s), m.Weights, m.ExpertLoad);

    private static DeclaredModel Wrap(OracleGeGluLm m) => new(m, m, ids => m.Forward(ids), (p, n, s) => m.Generate(p, n, s), m.Weights, m.ExpertLoad);

    private static DeclaredModel Wrap(OracleLayerNormGeluLm m) => new(m, m, ids => m.Forward(ids), (p, n, s) => m.Generate(p, n, s), m.Weights, m.ExpertLoad);

    private static DeclaredModel Wrap(OracleMhaAllMoeLm m) => new(m, m, ids => m.Forward(ids), (p, n, s) => m.Generate(p, n, s), m.Weights, m.ExpertLoad);

    private static DeclaredModel Wrap(OracleQkNormLm m) => new(m, m, ids => m.Forward(ids), (p, n, s) => m.Generate(p, n, s), m.Weights, m.ExpertLoad);

    private static DeclaredModel Wrap(OracleHeadDim80Lm m) => new(m, m, ids => m.Forward(ids), (p, n, s) => m.Generate(p, n, s), m.Weights, m.ExpertLoad);
}

public sealed class ModelOracleSession : IDisposable
{
    public Session Native { get; } = Session.Create(DeviceKind.Native, threads: 2);

    public void Dispose() => Native.Dispose();
}

/// <summary>
/// Whole declared models, generated and run on the native CPU target, against the same model
/// written with libtorch (<see cref="ModelOracle"/>) from the same weights: all logits of a full
/// pass, greedy generation through the KV cache against full-prefix recomputation, and the
/// safetensors round trip.
/// </summary>
public sealed class ModelOracleTests : IClassFixture<ModelOracleSession>
{
    /// <summary>fp32 against fp32 through several blocks: |wudao − torch| ≤ Atol + Rtol·|torch|.</summary>
    private const float Rtol = 1e-3f;
    private const float Atol = 1e-4f;

    /// <summary>Greedy choices closer than this (in logits) would be rounding's call, not the model's: such prompts are drawn again.</summary>
    private const float ClearMargin = 1e-3f;

    private readonly Session _session;
    private readonly ITestOutputHelper _output;

    public ModelOracleTests(ModelOracleSession session, ITestOutputHelper output)
    {
        _session = session.Native;
        _output = output;
    }

    [Theory]
    [MemberData(nameof(ModelOracleCases.NamesAndLengths), MemberType = typeof(ModelOracleCases))]
    public void Logits_match_libtorch(string model, int tokens) => LogitsMatch(model, tokens);

    /// <summary>130 tokens: the native GEMMs run two row tiles (96 + 34 rows) of each weight's panels.</summary>
    [Fact]
    public void Logits_match_libtorch_over_several_row_tiles() => LogitsMatch(nameof(OracleGeGluLm), 130);

    private void LogitsMatch(string model, int tokens)
    {
        var entry = ModelOracleCases.All[model];
        using var lm = entry.Create(_session, entry.Seed);
        var oracle = new ModelOracle(entry.Info, lm.Weights, entry.Seed);
        var (ids, torch) = DrawWithoutTies(oracle, tokens, seed: 1000 + tokens);
        var before = lm.ExpertLoad.Select(a => (a.TokensPerExpert.ToArray(), a.Dropped)).ToArray();

        var logits = lm.Forward(ids);

        Assert.Equal(tokens * entry.Info.Vocab, logits.Length);
        Report($"{model} x{tokens}", torch.Logits, logits);
        Numerics.Close(torch.Logits, logits, Rtol, Atol, $"{model} x{tokens}: logits (libtorch vs generated)");

        // The MoE blocks routed the same tokens to the same experts, and dropped the same number.
        Assert.Equal(torch.MoeBlocks.Count, lm.ExpertLoad.Length);
        for (var b = 0; b < torch.MoeBlocks.Count; b++)
        {
            var block = torch.MoeBlocks[b];
            // (An accumulator holds no per-expert counts until its first call.)
            var kept = lm.ExpertLoad[b].TokensPerExpert.Select((n, e) => (int)(n - (e < before[b].Item1.Length ? before[b].Item1[e] : 0))).ToArray();
            _output.WriteLine($"{model} x{tokens}: block {block.Layer} tokens per expert [{string.Join(", ", block.Kept)}], dropped {block.Dropped}");
            Numerics.Equal(block.Kept, kept, $"{model} x{tokens}: block {block.Layer} tokens per expert (libtorch vs generated)");
            Assert.Equal(block.Dropped, (int)(lm.ExpertLoad[b].Dropped - before[b].Dropped));
        }
    }

    [Theory]
    [MemberData(nameof(ModelOracleCases.Names), MemberType = typeof(ModelOracleCases))]
    public void Greedy_generation_matches_libtorch_argmax_decoding(string model)
    {
        const int promptLength = 5, newTokens = 10;
        var entry = ModelOracleCases.All[model];
        using var lm = entry.Create(_session, entry.Seed);
        var oracle = new ModelOracle(entry.Info, lm.Weights, entry.Seed);

        // A prompt whose greedy continuation is clear at every step, with no routing near-tie and no
        // token dropped for capacity in any of the oracle's passes. (A drop would make the full-prefix
        // recomputation differ from decoding by design: capacity depends on the tokens in a call.)
        var rng = new Random(7);
        int[] prompt;
        TorchGreedyResult torch;
        var draws = 0;
        do
        {
            Assert.True(draws++ < 20, $"{model}: no prompt among 20 has a clear greedy continuation");
            prompt = Enumerable.Range(0, promptLength).Select(_ => rng.Next(entry.Info.Vocab)).ToArray();
            torch = oracle.Greedy(prompt, newTokens);
        }
        while (torch.NearTie || torch.Dropped > 0 || torch.SmallestMargin < ClearMargin);

        var generated = lm.Generate(prompt, newTokens, Sampling.Greedy);

        _output.WriteLine($"{model}: prompt [{string.Join(", ", prompt)}] → libtorch [{string.Join(", ", torch.Tokens)}], generated [{string.Join(", ", generated)}]; smallest margin {torch.SmallestMargin:G4}");
        Numerics.Equal(torch.Tokens, generated, $"{model}: greedy tokens after [{string.Join(", ", prompt)}] (libtorch vs generated)");

        // The decoding steps' logits, through the KV cache, against the full-prefix recomputation.
        lm.Lm.Reset();
        var sequence = prompt.ToList();
        for (var s = 0; s < newTokens; s++)
        {
            var step = s == 0 ? lm.Lm.Step(prompt) : lm.Lm.Step(new[] { torch.Tokens[s - 1] });
            if (s > 0)
            {
                sequence.Add(torch.Tokens[s - 1]);
            }

            var v = entry.Info.Vocab;
            var full = oracle.Forward(sequence).Logits.AsSpan((sequence.Count - 1) * v, v).ToArray();
            Report($"{model} decode step {s} ({sequence.Count} tokens)", full, step);
            Numerics.Close(full, step, Rtol, Atol, $"{model}: decode step {s} logits (libtorch full prefix vs generated step)");
        }
    }

    [Theory]
    [MemberData(nameof(ModelOracleCases.Names), MemberType = typeof(ModelOracleCases))]
    public void Saved_weights_load_to_bit_identical_logits(string model)
    {
        var entry = ModelOracleCases.All[model];
        var path = Path.Combine(Path.GetTempPath(), $"wudao-model-oracle-{model}-{Guid.NewGuid():N}.safetensors");
        try
        {
            using var lm = entry.Create(_session, entry.Seed);
            lm.Weights.Save(path);
            using var loaded = entry.Load(_session, path, entry.Seed);

            Assert.Equal(lm.Weights.Names.OrderBy(n => n, StringComparer.Ordinal), loaded.Weights.Names.OrderBy(n => n, StringComparer.Ordinal));
            var ids = Enumerable.Range(0, 33).Select(i => ((i * 13) + 5) % entry.Info.Vocab).ToArray();
            var expected = lm.Forward(ids);
            var actual = loaded.Forward(ids);
            Assert.Equal(expected.Length, actual.Length);
            for (var i = 0; i < expected.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"{model}: logit {i} is {expected[i]:R} before saving, {actual[i]:R} after loading");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [MemberData(nameof(ModelOracleCases.NamesAndWeights), MemberType = typeof(ModelOracleCases))]
    public void Loading_a_tensor_of_the_wrong_shape_names_it_and_both_shapes(string model, string weight)
    {
        var entry = ModelOracleCases.All[model];
        var path = Path.Combine(Path.GetTempPath(), $"wudao-model-oracle-{model}-bad-{Guid.NewGuid():N}.safetensors");
        try
        {
            var good = MoeWeights.Random(entry.Info.AllWeights, entry.Seed);
            var expected = good[weight].Shape.ToArray();
            var wrong = expected.ToArray();
            wrong[^1] += 1;
            var tensors = good.Names.Select(n => n == weight
                ? new HostTensor(n, new float[wrong.Aggregate(1, (a, d) => a * d)], wrong)
                : good[n]);
            new MoeWeights(tensors).Save(path);

            var error = Assert.Throws<ArgumentException>(() => entry.Load(_session, path, entry.Seed).Dispose());

            _output.WriteLine(error.Message);
            Assert.Contains($"'{weight}'", error.Message, StringComparison.Ordinal);
            Assert.Contains($"[{string.Join(", ", expected)}]", error.Message, StringComparison.Ordinal);
            Assert.Contains($"[{string.Join(", ", wrong)}]", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Token ids from <paramref name="seed"/>, drawn again until no MoE block of the oracle has a routing near-tie.</summary>
    private static (int[] Ids, TorchModelResult Torch) DrawWithoutTies(ModelOracle oracle, int tokens, int seed)
    {
        var rng = new Random(seed);
        for (var draw = 0; draw < 20; draw++)
        {
            var ids = Enumerable.Range(0, tokens).Select(_ => rng.Next(oracle.Info.Vocab)).ToArray();
            var torch = oracle.Forward(ids);
            if (!torch.NearTie)
            {
                return (ids, torch);
            }
        }

        throw new InvalidOperationException($"{oracle.Info.Name}: no draw of {tokens} tokens among 20 is free of routing near-ties");
    }

    /// <summary>Writes the worst absolute error, the largest logit, and the worst error as a share of the tolerance.</summary>
    private void Report(string what, IReadOnlyList<float> expected, IReadOnlyList<float> actual)
    {
        double worstAbs = 0, worstShare = 0, scale = 0;
        for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
        {
            var diff = Math.Abs((double)expected[i] - actual[i]);
            worstAbs = Math.Max(worstAbs, diff);
            scale = Math.Max(scale, Math.Abs(expected[i]));
            worstShare = Math.Max(worstShare, diff / (Atol + (Rtol * Math.Abs(expected[i]))));
        }

        _output.WriteLine($"{what}: max |Δ| {worstAbs:E2} (max |logit| {scale:G3}), worst error {worstShare:P1} of the tolerance");
    }
}
