using System;
using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Plan;

/// <summary>One buffer's size: a materialized value (written by <see cref="Kernel"/>) or a weight (<see cref="Kernel"/> = −1).</summary>
/// <param name="Value">The SSA value (for a weight, its name in weight files).</param>
/// <param name="Type">Its type as planned, symbolic dims included.</param>
/// <param name="Kernel">The kernel that writes it, or −1 for a weight.</param>
/// <param name="Elements">Elements at the token count asked for (an upper bound where a dim is).</param>
/// <param name="Bytes">Elements times the dtype's size.</param>
public sealed record BufferSize(string Value, TensorType Type, int Kernel, long Elements, long Bytes);

/// <summary>
/// Device memory of a plan at a token count: every materialized value and every weight, in
/// bytes. Symbolic dims are bounded as the launcher allocates them: T is the token count, S (rows
/// kept for the experts) is at most T·k, or exactly E·C under expert choice.
/// </summary>
public static class BufferMemory
{
    /// <summary>Every materialized value of <paramref name="plan"/> with T = <paramref name="tokens"/>.</summary>
    public static IReadOnlyList<BufferSize> Buffers(KernelPlan plan, int tokens)
    {
        var bounds = Bounds(plan, tokens);
        return plan.Materialized.Select(m => Size(m.Value, m.Type, m.Kernel, bounds)).ToList();
    }

    /// <summary>Every weight the plan binds; weights have constant shapes.</summary>
    public static IReadOnlyList<BufferSize> Weights(KernelPlan plan)
    {
        var none = new Dictionary<string, long>();
        return plan.Weights.Select(w => Size(w.Name, w.Type, -1, none)).ToList();
    }

    /// <summary>The value each symbolic dim of <paramref name="plan"/> takes (at most) at <paramref name="tokens"/> tokens.</summary>
    public static IReadOnlyDictionary<string, long> Bounds(KernelPlan plan, int tokens)
    {
        if (tokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), "a token count cannot be negative");
        }

        var bounds = new Dictionary<string, long> { ["T"] = tokens };
        var types = plan.Graph.ValueTypes();
        var dispatch = plan.Graph.Nodes.FirstOrDefault(n => n.Op == Ops.Dispatch);
        if (dispatch == null)
        {
            return bounds;
        }

        var choice = plan.Graph.Nodes.FirstOrDefault(n => n.Op == Ops.ExpertChoice);
        if (choice != null)
        {
            // Every expert keeps exactly C = min(T, ceil(c·T/E)) tokens; the FFN runs E experts.
            var width = types[choice.Operands[0]]!.Shape[1].Value;
            var capacity = Math.Min(tokens, (long)Math.Ceiling((double)choice.FloatAttr("factor") * tokens / width));
            var up = plan.Graph.Nodes.First(n => n.Op == Ops.GroupedMatMul);
            bounds["S"] = capacity * types[up.Operands[1]]!.Shape[0].Value;
        }
        else
        {
            // Each token sends at most one row per expert slot (routed choices plus shared experts).
            bounds["S"] = (long)tokens * types[dispatch.Operands[1]]!.Shape[1].Value;
        }

        return bounds;
    }

    /// <summary>
    /// Bytes of <paramref name="types"/> as a sum of terms in the symbolic dims (e.g.
    /// <c>4,160·T + 10,240·S + 68 bytes</c>): exact for every batch, with no bound on S assumed.
    /// </summary>
    public static string Symbolic(IEnumerable<TensorType> types)
    {
        var terms = new SortedDictionary<string, long>(System.StringComparer.Ordinal);
        foreach (var t in types)
        {
            var symbols = string.Join("·", t.Shape.Where(d => d.IsSymbolic).Select(d => d.Symbol).OrderBy(s => s, System.StringComparer.Ordinal));
            var size = t.Shape.Where(d => !d.IsSymbolic).Aggregate((long)t.DType.Size(), (a, d) => a * d.Value);
            terms[symbols] = (terms.TryGetValue(symbols, out var sum) ? sum : 0) + size;
        }

        var parts = terms.Where(kv => kv.Key.Length > 0).Select(kv => $"{kv.Value.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)}·{kv.Key}").ToList();
        if (terms.TryGetValue("", out var constant) || parts.Count == 0)
        {
            parts.Add(constant.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        }

        return string.Join(" + ", parts) + " bytes";
    }

    /// <summary>Elements of <paramref name="type"/> with its symbols bound; throws for a symbol without a bound.</summary>
    public static long Elements(TensorType type, IReadOnlyDictionary<string, long> bounds) =>
        type.Shape.Aggregate(1L, (n, d) => checked(n * (d.Symbol == null ? d.Value
            : bounds.TryGetValue(d.Symbol, out var b) ? b
            : throw new CompileException($"no bound for dimension {d.Symbol} of {type}"))));

    private static BufferSize Size(string value, TensorType type, int kernel, IReadOnlyDictionary<string, long> bounds)
    {
        var elements = Elements(type, bounds);
        return new BufferSize(value, type, kernel, elements, checked(elements * type.DType.Size()));
    }
}
