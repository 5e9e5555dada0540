using System.Collections.Generic;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The route kernel's ops beside capacity and scan (nonfinite and the losses), each written once:
/// the fields it adds to a rank's partials (ints; float sums as their bits, added over ranks in
/// rank order), this rank's share of them, and the finish that turns every rank's partials into
/// its statistic in the meta block — a fragment per target for each step, side by side. The ILGPU
/// fragments run in the route's one group (<c>tid</c> of <c>g</c>, shared arrays they declare);
/// the native ones on one thread. A route op without an entry is refused by name.
/// </summary>
public static class RouteOpFragments
{
    /// <summary>A route op: the operands it reads (index, the kernel parameter they bind to), its partial fields (name, length in <c>Kernels</c> constants), its ILGPU shared arrays, and its partial and finish fragments per target.</summary>
    public sealed record RouteOp(
        IReadOnlyList<(int Operand, string Name)> Reads,
        IReadOnlyList<(string Field, string Length)> Partials,
        System.Func<Node, string> IlgpuShared,
        System.Func<Node, string> IlgpuPartial,
        System.Func<Node, string> NativePartial,
        System.Func<Node, string> IlgpuFinish,
        System.Func<Node, string> NativeFinish);

    public const string NonFiniteField = "Partial_nonfinite";

    private const string ProbsField = "Partial_probs";
    private const string LseField = "Partial_lse2";
    private const string ImportanceField = "Partial_importance";
    private const string LoadField = "Partial_load";

    private static readonly Dictionary<string, RouteOp> Table = new()
    {
        [Ops.NonFinite] = new(
            new[] { (0, "x") },
            new[] { (NonFiniteField, "1") },
            n => "",
            n => IlgpuNonFinite($"PartialsAt + {NonFiniteField}"),
            n => NativeNonFinite($"Kernels.PartialsAt + Kernels.{NonFiniteField}"),
            n => $@"
if (tid == 0)
{{
    int bad = 0;
    for (int q = 0; q < ranks; q++)
    {{
        bad += gathered[(q * PartialsLength) + {NonFiniteField}];
    }}

    meta[{Meta(n)}] = bad;
}}
",
            n => $@"
int bad = 0;
for (int r = 0; r < ranks; r++)
{{
    bad += {Gathered("r", "Kernels." + NonFiniteField)};
}}

{At("meta", "Kernels." + Meta(n))} = bad;
"),

        [Ops.AuxLoss] = new(
            new[] { (0, "probs") },
            new[] { (ProbsField, "E") },
            n => "\nvar partial = global::ILGPU.SharedMemory.Allocate<float>(E);",
            n => $@"
// aux_loss's probability sums, per expert in token order.
for (int e = tid; e < E; e += g)
{{
    float p = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        p += probs[(long)t * E + e];
    }}

    meta[PartialsAt + {ProbsField} + e] = (int)global::ILGPU.Interop.FloatAsInt(p);
}}
",
            n => $@"
// aux_loss's probability sums, per expert in token order.
for (int e = 0; e < Kernels.E; e++)
{{
    float p = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        p += {At("probs", "(t * Kernels.E) + e")};
    }}

    {At("part", $"Kernels.{ProbsField} + e")} = global::System.BitConverter.SingleToInt32Bits(p);
}}
",
            n => $@"
// aux_loss: alpha * E * sum_i f_i * P_i over the global batch; f_i = share of tokens whose first
// choice is i, P_i = mean router probability of i.
for (int e = tid; e < E; e += g)
{{
    int f = 0;
    for (int q = 0; q < ranks; q++)
    {{
        f += gathered[(q * PartialsLength) + {RouteKernel.PartialCounts} + e];
    }}

    float p = RankSum(gathered, ranks, {ProbsField} + e);
    partial[e] = total > 0 ? (f / (float)total) * (p / total) : 0f;
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    float s = 0f;
    for (int e = 0; e < E; e++)
    {{
        s += partial[e];
    }}

    meta[{Meta(n)}] = (int)global::ILGPU.Interop.FloatAsInt({Weight(n, "alpha")} * E * s);
}}
",
            n => $@"
// aux_loss: E·α·Σ_e f_e·P_e over the global batch (f: first-choice share, P: mean probability).
float s = 0f;
for (int e = 0; e < Kernels.E; e++)
{{
    int f = 0;
    for (int r = 0; r < ranks; r++)
    {{
        f += {Gathered("r", $"Kernels.{RouteKernel.PartialCounts} + e")};
    }}

    float p = {RankSum($"Kernels.{ProbsField} + e")};
    s += total > 0 ? (f / (float)total) * (p / total) : 0f;
}}

{At("meta", "Kernels." + Meta(n))} = global::System.BitConverter.SingleToInt32Bits({Weight(n, "alpha")} * Kernels.E * s);
"),

        [Ops.ZLoss] = new(
            new[] { (0, "lse") },
            new[] { (LseField, "1") },
            n => "",
            n => $@"
// z_loss's sum of squared logsumexps, in token order.
if (tid == 0)
{{
    float zs = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        zs += lse[t] * lse[t];
    }}

    meta[PartialsAt + {LseField}] = (int)global::ILGPU.Interop.FloatAsInt(zs);
}}
",
            n => $@"
// z_loss's sum of squared logsumexps, in token order.
float zs = 0f;
for (int t = 0; t < tokens; t++)
{{
    float l = {At("lse", "t")};
    zs += l * l;
}}

{At("part", "Kernels." + LseField)} = global::System.BitConverter.SingleToInt32Bits(zs);
",
            n => $@"
// z_loss: weight · mean over the global batch of logsumexp².
if (tid == 0)
{{
    float zs = RankSum(gathered, ranks, {LseField});
    meta[{Meta(n)}] = (int)global::ILGPU.Interop.FloatAsInt(total > 0 ? {Weight(n, "weight")} * (zs / total) : 0f);
}}
",
            n => $@"
// z_loss: weight · mean over the global batch of logsumexp².
float zs = {RankSum("Kernels." + LseField)};
{At("meta", "Kernels." + Meta(n))} = global::System.BitConverter.SingleToInt32Bits(total > 0 ? {Weight(n, "weight")} * (zs / total) : 0f);
"),

        [Ops.NoisyLoss] = new(
            new[] { (0, "pload"), (1, "gates") },
            new[] { (ImportanceField, "E"), (LoadField, "E") },
            n => "\nvar importance = global::ILGPU.SharedMemory.Allocate<float>(E);\nvar load = global::ILGPU.SharedMemory.Allocate<float>(E);",
            n => $@"
// noisy_loss: importance = Σ gates, load = Σ P(x, e), per expert in token order.
for (int e = tid; e < E; e += g)
{{
    float imp = 0f;
    float ld = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        for (int j = 0; j < K; j++)
        {{
            if (experts[((long)t * K) + j] == e)
            {{
                imp += gates[((long)t * K) + j];
            }}
        }}

        ld += pload[((long)t * E) + e];
    }}

    meta[PartialsAt + {ImportanceField} + e] = (int)global::ILGPU.Interop.FloatAsInt(imp);
    meta[PartialsAt + {LoadField} + e] = (int)global::ILGPU.Interop.FloatAsInt(ld);
}}
",
            n => $@"
// noisy_loss: importance = Σ gates, load = Σ P(x, e), per expert in token order.
for (int e = 0; e < Kernels.E; e++)
{{
    float imp = 0f;
    float ld = 0f;
    for (int t = 0; t < tokens; t++)
    {{
        for (int j = 0; j < Kernels.K; j++)
        {{
            if ({At("experts", "(t * Kernels.K) + j")} == e)
            {{
                imp += {At("gates", "(t * Kernels.K) + j")};
            }}
        }}

        ld += {At("pload", "(t * Kernels.E) + e")};
    }}

    {At("part", $"Kernels.{ImportanceField} + e")} = global::System.BitConverter.SingleToInt32Bits(imp);
    {At("part", $"Kernels.{LoadField} + e")} = global::System.BitConverter.SingleToInt32Bits(ld);
}}
",
            n => $@"
// noisy_loss: the weighted CV² of the global importance and load (unbiased variance over E − 1, as torch's var).
for (int e = tid; e < E; e += g)
{{
    importance[e] = RankSum(gathered, ranks, {ImportanceField} + e);
    load[e] = RankSum(gathered, ranks, {LoadField} + e);
}}

global::ILGPU.Group.Barrier();
if (tid == 0)
{{
    meta[{Meta(n, 0)}] = (int)global::ILGPU.Interop.FloatAsInt({Weight(n, "importance")} * CvSquared(importance));
    meta[{Meta(n, 1)}] = (int)global::ILGPU.Interop.FloatAsInt({Weight(n, "load")} * CvSquared(load));
}}
",
            n => $@"
// noisy_loss: the weighted CV² of the global importance and load.
global::System.Span<float> importance = stackalloc float[Kernels.E];
global::System.Span<float> load = stackalloc float[Kernels.E];
for (int e = 0; e < Kernels.E; e++)
{{
    importance[e] = {RankSum($"Kernels.{ImportanceField} + e")};
    load[e] = {RankSum($"Kernels.{LoadField} + e")};
}}

{At("meta", "Kernels." + Meta(n, 0))} = global::System.BitConverter.SingleToInt32Bits({Weight(n, "importance")} * Kernels.CvSquared(importance));
{At("meta", "Kernels." + Meta(n, 1))} = global::System.BitConverter.SingleToInt32Bits({Weight(n, "load")} * Kernels.CvSquared(load));
"),
    };

    /// <summary>The op's entry; an op the route has no fragments for cannot be assembled.</summary>
    public static RouteOp? Find(string op) => Table.TryGetValue(op, out var r) ? r : null;

    /// <summary>
    /// nonfinite's count on ILGPU: tokens with a NaN or infinite value, each thread its strided
    /// share, added by an exact integer atomic to <paramref name="target"/>, which must be 0 and
    /// settled by a barrier. Expert choice counts straight into the statistic with it.
    /// </summary>
    public static string IlgpuNonFinite(string target) => $@"
// nonfinite: tokens with a NaN or infinite value (v·0 is 0 for finite v, NaN otherwise).
int mineBad = 0;
for (int t = tid; t < tokens; t += g)
{{
    bool finite = true;
    for (int d = 0; d < D; d++)
    {{
        finite &= x[((long)t * D) + d] * 0f == 0f;
    }}

    mineBad += finite ? 0 : 1;
}}

global::ILGPU.Atomic.Add(ref meta[{target}], mineBad);
";

    /// <summary>nonfinite's count on the native target, into <paramref name="target"/>; expert choice counts straight into the statistic with it.</summary>
    public static string NativeNonFinite(string target) => $@"
// nonfinite: tokens with a NaN or infinite value (v·0 is 0 for finite v, NaN otherwise).
int bad = 0;
for (int t = 0; t < tokens; t++)
{{
    ref float xr = ref global::System.Runtime.CompilerServices.Unsafe.Add(ref x, t * Kernels.D);
    var zv = global::System.Numerics.Vector<float>.Zero;
    int d = 0;
    for (; d + global::System.Numerics.Vector<float>.Count <= Kernels.D; d += global::System.Numerics.Vector<float>.Count)
    {{
        zv += global::System.Numerics.Vector.LoadUnsafe(ref xr, (nuint)d) * global::System.Numerics.Vector<float>.Zero;
    }}

    float z = global::System.Numerics.Vector.Sum(zv);
    for (; d < Kernels.D; d++)
    {{
        z += global::System.Runtime.CompilerServices.Unsafe.Add(ref xr, d) * 0f;
    }}

    bad += z == 0f ? 0 : 1;
}}

global::System.Runtime.CompilerServices.Unsafe.Add(ref meta, {target}) = bad;
";

    /// <summary>The meta constant of the op's result <paramref name="i"/>.</summary>
    public static string Meta(Node n, int i = 0) => KernelReading.Meta(n.Results[i]);

    private static string Weight(Node n, string attr) => CSharpNames.Float(n.FloatAttr(attr));

    public static string At(string view, string index) => $"global::System.Runtime.CompilerServices.Unsafe.Add(ref {view}, {index})";

    public static string Gathered(string rank, string field) => At("gathered", $"({rank} * Kernels.PartialsLength) + {field}");

    /// <summary>A float partial summed over the ranks in rank order (its own value on one rank), native.</summary>
    public static string RankSum(string field) => $"RankSum(ref gathered, args.Ranks, {field})";
}
