using System.Collections.Generic;
using System.Globalization;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Lowering;

/// <summary>Shorthands the lowerings build IR nodes with; attribute values print invariantly.</summary>
internal static class NodeBuilder
{
    /// <summary>
    /// A weight; fan_in is recorded so initialisation follows torch.nn.Linear (±1/sqrt(fan_in)),
    /// 0 for state that starts at zero, −1 for a scale that starts at one.
    /// </summary>
    public static Node Param(string value, string name, int fanIn, TensorType type) =>
        new(Ops.Param, new[] { value }, new string[0], new[] { new KeyValuePair<string, string>("name", name), new KeyValuePair<string, string>("fan_in", I(fanIn)) }, new TensorType?[] { type });

    public static Node N(string op, string result, params string[] operands) => new(op, new[] { result }, operands);

    public static Node N(string op, string[] results, string[] operands, params (string Key, string Value)[] attrs)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var (key, value) in attrs)
        {
            list.Add(new KeyValuePair<string, string>(key, value));
        }

        return new Node(op, results, operands, list);
    }

    public static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    public static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}
