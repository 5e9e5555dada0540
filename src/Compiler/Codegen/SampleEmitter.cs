using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// The sample op's code, for both schedules: a public <c>Sample</c> that generation calls once per
/// token with the user's options, over a nested class whose vocabulary is a constant. Greedy is an
/// argmax in 256-bit vectors; otherwise the candidates (top-k by insertion, else all, sorted) get a
/// softmax in double at the temperature, the nucleus is cut at top-p, and one counter-RNG draw picks.
/// A device session samples the last row of logits it reads back, so both schedules draw alike.
/// </summary>
internal static class SampleEmitter
{
    /// <summary>The kernels a step runs: all but the sampler, which runs per generated token with options a step does not have.</summary>
    public static IEnumerable<PlannedKernel> StepKernels(KernelPlan plan) => plan.Kernels.Where(k => k.Space != IterationSpace.VocabRow);

    /// <summary>The plan's sample kernel and the vocabulary its logits span.</summary>
    internal static (PlannedKernel Kernel, int Vocab) Of(KernelPlan plan)
    {
        var k = plan.Kernels.Single(x => x.Space == IterationSpace.VocabRow);
        return (k, plan.Graph.ValueTypes()[k.Nodes[0].Operands[0]]!.Shape[1].Value);
    }

    /// <summary>The model's <c>Sample</c>: checks its arguments, samples the last row, and counts its time as the sample kernel's.</summary>
    public static void Method(SourceWriter w, KernelPlan plan)
    {
        var (k, vocab) = Of(plan);
        w.Line("/// <summary>");
        w.Line("/// The next token from the last row of <paramref name=\"logits\"/> (a step's, or a forward's last token), as");
        w.Line("/// <paramref name=\"sampling\"/> says; <paramref name=\"step\"/> is the RNG's counter (tokens generated so far).");
        w.Line("/// </summary>");
        w.Lines($$"""
            public int Sample(global::System.ReadOnlySpan<float> logits, global::Wudao.Models.Sampling sampling, int step)
            {
                global::System.ArgumentNullException.ThrowIfNull(sampling);
                sampling.Validate();
                if (logits.Length == 0 || logits.Length % {{vocab}} != 0)
                {
                    throw new global::System.ArgumentException($"{logits.Length} logits are not rows of Vocab = {{vocab}}", nameof(logits));
                }

                long start = global::System.Diagnostics.Stopwatch.GetTimestamp();
                int next = Sampler{{vocab}}.Next(logits.Slice(logits.Length - {{vocab}}), sampling, step);
                global::System.Threading.Interlocked.Add(ref KernelTicks[{{k.Index}}], global::System.Diagnostics.Stopwatch.GetTimestamp() - start);
                return next;
            }
            """);
        w.Line();
    }

    /// <summary>The nested sampler class: the sample op's math over a constant vocabulary.</summary>
    public static void Class(SourceWriter w, KernelPlan plan)
    {
        var (k, vocab) = Of(plan);
        w.Line($"/// <summary>%{k.Nodes[0].Results[0]} = sample over a vocabulary of {vocab}: what <see cref=\"Sample\"/> computes.</summary>");
        w.Open($"private static class Sampler{vocab}");
        w.Line($"private const int Vocab = {vocab};");
        w.Line();
        w.Lines(Draw);
        w.Line();
        ArgMax(w, vocab);
        w.Close();
        w.Line();
    }

    /// <summary>
    /// Greedy's argmax, as a scan from id 0 that moves on a strictly larger logit defines it: the first
    /// id of the largest value (−0 equals +0), a NaN never chosen unless it is logit 0, where the scan
    /// stays. Two vector passes: the largest value, then the first id holding it.
    /// </summary>
    private static void ArgMax(SourceWriter w, int vocab)
    {
        const string V = "global::System.Runtime.Intrinsics.Vector256";
        var vectors = vocab - (vocab % 8);
        w.Line("/// <summary>The first id of the largest logit (−0 equals +0), as a scan from id 0 that moves on a strictly larger one: a NaN only at id 0.</summary>");
        w.Open("private static int ArgMax(global::System.ReadOnlySpan<float> logits)");
        w.Lines("""
            float max = logits[0];
            if (float.IsNaN(max))
            {
                return 0;
            }

            int i = 0;
            """);
        w.Line();
        if (vectors > 0)
        {
            // A lane keeps its value unless a later one is strictly larger, so a NaN never enters.
            w.Lines($$"""
                ref float x = ref global::System.Runtime.InteropServices.MemoryMarshal.GetReference(logits);
                var best = {{V}}.Create(max);
                for (; i < {{vectors}}; i += 8)
                {
                    var v = {{V}}.LoadUnsafe(ref x, (nuint)i);
                    best = {{V}}.ConditionalSelect({{V}}.GreaterThan(v, best), v, best);
                }

                for (int lane = 0; lane < 8; lane++)
                {
                    float b = {{V}}.GetElement(best, lane);
                    max = b > max ? b : max;
                }
                """);
            w.Line();
        }

        if (vectors < vocab)
        {
            w.Lines($$"""
                for (; i < {{vocab}}; i++)
                {
                    max = logits[i] > max ? logits[i] : max;
                }
                """);
            w.Line();
        }

        if (vectors > 0)
        {
            w.Lines($$"""
                var target = {{V}}.Create(max);
                for (i = 0; i < {{vectors}}; i += 8)
                {
                    uint hits = {{V}}.ExtractMostSignificantBits({{V}}.Equals({{V}}.LoadUnsafe(ref x, (nuint)i), target));
                    if (hits != 0)
                    {
                        return i + global::System.Numerics.BitOperations.TrailingZeroCount(hits);
                    }
                }
                """);
            w.Line();
        }
        else
        {
            w.Line("i = 0;");
        }

        // The tail, or every id without vectors. max is one of the logits (never NaN), so the scan stops on it.
        w.Lines("""
            while (logits[i] != max)
            {
                i++;
            }

            return i;
            """);
        w.Close();
    }

    /// <summary>
    /// The draw. Candidates are ordered by descending logit, ties to the lower id, as one 64-bit key
    /// each so a primitive sort orders them; the softmax is in double so the tail does not vanish.
    /// </summary>
    private const string Draw = """
        public static int Next(global::System.ReadOnlySpan<float> logits, global::Wudao.Models.Sampling sampling, int step)
        {
            if (sampling.Temperature == 0f)
            {
                return ArgMax(logits);
            }

            // The TopK best by selection, else all of them sorted.
            var count = sampling.TopK > 0 ? global::System.Math.Min(sampling.TopK, Vocab) : Vocab;
            var keys = global::System.Buffers.ArrayPool<ulong>.Shared.Rent(Vocab);
            var p = global::System.Buffers.ArrayPool<double>.Shared.Rent(count);
            try
            {
                var candidates = count < Vocab ? Best(logits, count, keys) : All(logits, keys);
                var max = Logit(candidates[0]);
                var sum = 0.0;
                for (var i = 0; i < count; i++)
                {
                    p[i] = global::System.Math.Exp((Logit(candidates[i]) - max) / sampling.Temperature);
                    sum += p[i];
                }

                // Nucleus: the smallest prefix whose probability reaches TopP (always at least one token).
                var kept = 0;
                var mass = 0.0;
                while (kept < count && (kept == 0 || mass < sampling.TopP * sum))
                {
                    mass += p[kept++];
                }

                var seed = new global::Wudao.CounterSeed(sampling.Seed);
                var u = global::Wudao.CounterRng.Uniform(seed.Lo, seed.Hi, step, 0) * mass;
                var acc = 0.0;
                for (var i = 0; i < kept; i++)
                {
                    acc += p[i];
                    if (u < acc)
                    {
                        return Id(candidates[i]);
                    }
                }

                return Id(candidates[kept - 1]);
            }
            finally
            {
                global::System.Buffers.ArrayPool<ulong>.Shared.Return(keys);
                global::System.Buffers.ArrayPool<double>.Shared.Return(p);
            }
        }

        /// <summary>Sorts ascending as (logit descending, id ascending): the logit's bits made order-preserving, then inverted; −0 and +0 are one value.</summary>
        private static ulong Key(float logit, int id)
        {
            var bits = global::System.BitConverter.SingleToUInt32Bits(logit == 0f ? 0f : logit);
            bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
            return ((ulong)~bits << 32) | (uint)id;
        }

        private static int Id(ulong key) => (int)(uint)key;

        private static float Logit(ulong key)
        {
            var bits = ~(uint)(key >> 32);
            bits = (bits & 0x80000000u) != 0 ? bits & 0x7FFFFFFFu : ~bits;
            return global::System.BitConverter.UInt32BitsToSingle(bits);
        }

        /// <summary>
        /// Every key in order. They are made in id order, so a stable sort on their logit half alone
        /// orders them as the whole keys: an LSD radix sort, four passes of 8 bits, O(Vocab) a token.
        /// </summary>
        private static global::System.Span<ulong> All(global::System.ReadOnlySpan<float> logits, ulong[] keys)
        {
            var all = global::System.MemoryExtensions.AsSpan(keys, 0, Vocab);
            for (var i = 0; i < Vocab; i++)
            {
                all[i] = Key(logits[i], i);
            }

            var spare = global::System.Buffers.ArrayPool<ulong>.Shared.Rent(Vocab);
            try
            {
                global::System.Span<int> at = stackalloc int[256];
                var from = all;
                var to = global::System.MemoryExtensions.AsSpan(spare, 0, Vocab);
                for (var shift = 32; shift < 64; shift += 8)
                {
                    at.Clear();
                    foreach (var key in from)
                    {
                        at[(int)(key >> shift) & 0xFF]++;
                    }

                    for (int b = 0, sum = 0; b < 256; b++)
                    {
                        (at[b], sum) = (sum, sum + at[b]);
                    }

                    foreach (var key in from)
                    {
                        to[at[(int)(key >> shift) & 0xFF]++] = key;
                    }

                    var swap = from;
                    from = to;
                    to = swap;
                }
            }
            finally
            {
                global::System.Buffers.ArrayPool<ulong>.Shared.Return(spare);
            }

            return all;
        }

        /// <summary>The count smallest keys in order, by insertion into a sorted prefix: one pass over the vocabulary.</summary>
        private static global::System.Span<ulong> Best(global::System.ReadOnlySpan<float> logits, int count, ulong[] keys)
        {
            var best = global::System.MemoryExtensions.AsSpan(keys, 0, count);
            var filled = 0;
            for (var i = 0; i < Vocab; i++)
            {
                var key = Key(logits[i], i);
                if (filled == count && key >= best[count - 1])
                {
                    continue;
                }

                var at = filled < count ? filled++ : count - 1;
                while (at > 0 && best[at - 1] > key)
                {
                    best[at] = best[at - 1];
                    at--;
                }

                best[at] = key;
            }

            return best;
        }
        """;
}
