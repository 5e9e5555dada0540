using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Fills every result type from the operands' types by each op's rule. A type already written
/// in the IR is checked against the inferred one, so a wrong annotation is an error, not a lie.
/// Returns whether any type was filled in.
/// </summary>
public static class ShapeInference
{
    public static bool Run(Graph graph)
    {
        var changed = false;
        var types = graph.ValueTypes();
        foreach (var node in graph.Nodes)
        {
            var info = Ops.Get(node.Op);
            if (node.Op == Ops.Param)
            {
                continue;
            }

            var operandTypes = node.Operands.Select(o => types[o]
                ?? throw new CompileException($"%{node.Name} = {node.Op}: type of %{o} is unknown")).ToArray();
            var inferred = info.Infer(node, operandTypes);
            for (var i = 0; i < inferred.Length; i++)
            {
                var declared = node.Types[i];
                if (declared == null)
                {
                    node.Types[i] = inferred[i];
                    changed = true;
                }
                else if (!declared.Equals(inferred[i]))
                {
                    throw new CompileException($"%{node.Results[i]} = {node.Op}: declared type {declared} but the operands give {inferred[i]}");
                }

                types[node.Results[i]] = inferred[i];
            }
        }

        return changed;
    }
}
