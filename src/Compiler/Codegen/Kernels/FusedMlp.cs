using System.Collections.Generic;
using System.Linq;
using Wudao.Compiler.Ir;
using Wudao.Compiler.Plan;

namespace Wudao.Compiler.Codegen;

/// <summary>
/// An expert kernel read as a fused MLP, from the plan alone: a main loop (the up grouped GEMM),
/// its epilogue (bias, then an activation from the registry), a second main loop (the down
/// GEMM) and its epilogue (bias). Both targets assemble their kernel from this; an op that fits
/// none of these places is a <see cref="KernelAssemblyException"/> naming it.
/// </summary>
public sealed class FusedMlp
{
    private FusedMlp(Node up, Node? upBias, ActivationDef? activation, Node down, Node? downBias, int dim, int hidden)
    {
        Up = up;
        UpBias = upBias;
        Activation = activation;
        Down = down;
        DownBias = downBias;
        Dim = dim;
        Hidden = hidden;
    }

    public Node Up { get; }

    public Node? UpBias { get; }

    /// <summary>Null for an identity (no activation between the GEMMs).</summary>
    public ActivationDef? Activation { get; }

    public Node Down { get; }

    public Node? DownBias { get; }

    /// <summary>Row width in and out.</summary>
    public int Dim { get; }

    /// <summary>Hidden width after the activation (the up GEMM makes Width × as many columns).</summary>
    public int Hidden { get; }

    public int HiddenIn => Hidden * (Activation?.Width ?? 1);

    /// <summary>The value holding each expert's row offsets, which every grouped op reads.</summary>
    public string Offsets => Up.Operands[2];

    /// <summary>The kernel's output value.</summary>
    public string Output => (DownBias ?? Down).Results[0];

    public static FusedMlp From(PlannedKernel k, KernelPlan plan)
    {
        var types = plan.Graph.ValueTypes();
        var nodes = new Queue<Node>(k.Nodes);
        string Where(Node n) => $"k{k.Index} {k.Name}: %{n.Name} = {n.Op}";
        Node Gemm(string role)
        {
            if (nodes.Count == 0 || nodes.Peek().Op != Ops.GroupedMatMul)
            {
                var next = nodes.Count == 0 ? "the kernel ends" : $"%{nodes.Peek().Name} = {nodes.Peek().Op} comes";
                throw new KernelAssemblyException($"k{k.Index} {k.Name}: the fused MLP needs its {role} grouped_matmul here, but {next} [{string.Join(", ", k.OpNames)}]");
            }

            return nodes.Dequeue();
        }

        Node? Bias(Node after)
        {
            if (nodes.Count == 0 || nodes.Peek().Op != Ops.Bias)
            {
                return null;
            }

            var bias = nodes.Dequeue();
            return bias.Operands[0] == after.Results[0] ? bias : throw new KernelAssemblyException($"{Where(bias)} does not read %{after.Results[0]}, the tile it would be applied to");
        }

        var up = Gemm("up");
        var upBias = Bias(up);
        ActivationDef? activation = null;
        var hidden = upBias ?? up;
        if (nodes.Count > 0 && Ops.Get(nodes.Peek().Op).Activation is { } a)
        {
            var act = nodes.Dequeue();
            if (act.Operands[0] != hidden.Results[0])
            {
                throw new KernelAssemblyException($"{Where(act)} does not read %{hidden.Results[0]}, the hidden tile");
            }

            activation = a;
            hidden = act;
        }

        var down = Gemm("down");
        if (down.Operands[0] != hidden.Results[0])
        {
            throw new KernelAssemblyException($"{Where(down)} does not read %{hidden.Results[0]}: the hidden tile must feed the second GEMM");
        }

        var downBias = Bias(down);
        if (nodes.Count > 0)
        {
            var extra = nodes.Peek();
            throw new KernelAssemblyException($"{Where(extra)} has no place in the fused MLP: after the down GEMM only its bias may follow ({(Ops.Get(extra.Op).IsEpilogue ? "activations go between the GEMMs" : "it is not an epilogue")})");
        }

        var dim = types[up.Operands[0]]!.Shape[1].Value;
        return new FusedMlp(up, upBias, activation, down, downBias, dim, types[hidden.Results[0]]!.Shape[1].Value);
    }
}
