using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Ir;

/// <summary>A named SSA graph: typed inputs, nodes in program order, named outputs.</summary>
public sealed class Graph
{
    public Graph(string name, IReadOnlyList<KeyValuePair<string, TensorType>> inputs, IReadOnlyList<Node> nodes, IReadOnlyList<string> outputs)
    {
        Name = name;
        Inputs = inputs;
        Nodes = nodes;
        Outputs = outputs;
    }

    public string Name { get; }

    public IReadOnlyList<KeyValuePair<string, TensorType>> Inputs { get; }

    public IReadOnlyList<Node> Nodes { get; }

    public IReadOnlyList<string> Outputs { get; }

    /// <summary>Maps every defined value to its type (null where not yet inferred).</summary>
    public Dictionary<string, TensorType?> ValueTypes()
    {
        var types = Inputs.ToDictionary(i => i.Key, i => (TensorType?)i.Value);
        foreach (var node in Nodes)
        {
            for (var i = 0; i < node.Results.Count; i++)
            {
                types[node.Results[i]] = node.Types[i];
            }
        }

        return types;
    }

    /// <summary>Maps every value produced by a node to that node.</summary>
    public Dictionary<string, Node> Producers()
    {
        var producers = new Dictionary<string, Node>();
        foreach (var node in Nodes)
        {
            foreach (var r in node.Results)
            {
                producers[r] = node;
            }
        }

        return producers;
    }

    public override string ToString() => IrPrinter.Print(this);
}
