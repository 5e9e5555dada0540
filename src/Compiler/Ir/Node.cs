using System.Collections.Generic;
using System.Globalization;

namespace Wudao.Compiler.Ir;

/// <summary>
/// One operation in SSA form: <c>%a, %b = op %x, %y {attr=value} : type, type</c>.
/// Result types are null until shape inference fills them.
/// </summary>
public sealed class Node
{
    public Node(string op, IReadOnlyList<string> results, IReadOnlyList<string> operands, IReadOnlyList<KeyValuePair<string, string>>? attributes = null, IReadOnlyList<TensorType?>? types = null)
    {
        Op = op;
        Results = results;
        Operands = operands;
        Attributes = attributes ?? new List<KeyValuePair<string, string>>();
        Types = types != null ? new List<TensorType?>(types) : new List<TensorType?>(new TensorType?[results.Count]);
    }

    public string Op { get; }

    public IReadOnlyList<string> Results { get; }

    public IReadOnlyList<string> Operands { get; }

    /// <summary>Attributes in declaration order; values are kept as text (numbers invariant).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Attributes { get; }

    /// <summary>One type per result.</summary>
    public List<TensorType?> Types { get; }

    /// <summary>The node's name in messages: its first result.</summary>
    public string Name => Results.Count > 0 ? Results[0] : Op;

    public string? Attr(string name)
    {
        foreach (var kv in Attributes)
        {
            if (kv.Key == name)
            {
                return kv.Value;
            }
        }

        return null;
    }

    public int IntAttr(string name) =>
        int.TryParse(Attr(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new CompileException($"%{Name} = {Op}: attribute '{name}' must be an integer, got '{Attr(name) ?? "nothing"}'");

    public float FloatAttr(string name) =>
        float.TryParse(Attr(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new CompileException($"%{Name} = {Op}: attribute '{name}' must be a number, got '{Attr(name) ?? "nothing"}'");
}
