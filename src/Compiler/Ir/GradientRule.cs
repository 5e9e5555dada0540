using System.Collections.Generic;

namespace Wudao.Compiler.Ir;

/// <summary>
/// An op's vector-Jacobian product, written next to its forward definition: given the cotangents
/// of the node's results, it emits the backward nodes that give its operands' cotangents.
/// </summary>
public delegate void GradientRule(Node node, IGradientBuilder b);

/// <summary>What a gradient rule writes the backward graph with (the autodiff pass implements it).</summary>
public interface IGradientBuilder
{
    /// <summary>The cotangent of the node's result <paramref name="result"/>, or null when no gradient reaches it.</summary>
    string? Cotangent(int result);

    /// <summary>The type of a value of the forward graph (an operand's, say).</summary>
    TensorType Type(string value);

    /// <summary>
    /// Emits <c>%name = op operands {attributes}</c> as the next contribution to operand
    /// <paramref name="operand"/>'s cotangent; several contributions are summed in the order
    /// written. Returns the contribution's name, or null when the operand learns nothing (then
    /// nothing is emitted).
    /// </summary>
    string? Accumulate(int operand, string op, IReadOnlyList<string> operands, params (string Key, object Value)[] attributes);

    /// <summary>Emits an intermediate the rule needs (a recomputed hidden row, say), named after the node and <paramref name="hint"/>.</summary>
    string Temp(string hint, string op, IReadOnlyList<string> operands, params (string Key, object Value)[] attributes);

    /// <summary>Adds an existing value (an identity's cotangent passed through) to operand <paramref name="operand"/>'s cotangent.</summary>
    void Pass(int operand, string cotangent);
}

/// <summary>Rules shared by many ops.</summary>
public static class Gradients
{
    /// <summary>No gradient flows: the results are integers (indices, counts) or statistics the loss does not read.</summary>
    public static readonly GradientRule None = static (_, _) => { };

    /// <summary>Runs <paramref name="emit"/> with result <paramref name="result"/>'s cotangent, when one reaches it.</summary>
    public static void With(this IGradientBuilder b, int result, System.Action<string> emit)
    {
        if (b.Cotangent(result) is { } d)
        {
            emit(d);
        }
    }
}
