using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Wudao.Compiler.Ir;

namespace Wudao.Compiler.Passes;

/// <summary>
/// Checks that a graph is well formed: known ops, arity, required attributes, every value
/// defined once before use, outputs defined, and (after shape inference) every type known.
/// Runs at pass boundaries so a broken pass is caught where it broke the graph.
/// </summary>
public static class Verifier
{
    public static void Verify(Graph graph, bool requireTypes)
    {
        var defined = new HashSet<string>();
        foreach (var input in graph.Inputs)
        {
            if (!defined.Add(input.Key))
            {
                throw new CompileException($"input %{input.Key} is declared twice");
            }
        }

        foreach (var node in graph.Nodes)
        {
            if (!Ops.TryGet(node.Op, out var info))
            {
                throw new CompileException($"%{node.Name}: unknown op '{node.Op}' (known: {string.Join(", ", Ops.Names)})");
            }

            if (node.Operands.Count != info.Operands)
            {
                throw new CompileException($"%{node.Name} = {node.Op}: takes {info.Operands} operands, got {node.Operands.Count}");
            }

            if (node.Results.Count != info.Results)
            {
                throw new CompileException($"%{node.Name} = {node.Op}: has {info.Results} results, got {node.Results.Count}");
            }

            foreach (var attr in info.RequiredAttributes.Where(a => node.Attr(a) == null))
            {
                throw new CompileException($"%{node.Name} = {node.Op}: missing attribute '{attr}'");
            }

            CheckAttributes(node, info);

            foreach (var operand in node.Operands.Where(o => !defined.Contains(o)))
            {
                throw new CompileException($"%{node.Name} = {node.Op}: operand %{operand} is not defined before use");
            }

            foreach (var result in node.Results.Where(r => !defined.Add(r)))
            {
                throw new CompileException($"%{result} is defined twice");
            }

            if (node.Op == Ops.Param && node.Types[0] == null)
            {
                throw new CompileException($"%{node.Name} = param needs an explicit type");
            }

            if (requireTypes && node.Types.Any(t => t == null))
            {
                throw new CompileException($"%{node.Name} = {node.Op}: result type unknown after shape inference");
            }
        }

        foreach (var output in graph.Outputs.Where(o => !defined.Contains(o)))
        {
            throw new CompileException($"graph output %{output} is never defined");
        }
    }

    /// <summary>Every attribute is one the op defines (a misspelt one would be silently unread), with a value of its kind.</summary>
    private static void CheckAttributes(Node node, OpDef info)
    {
        foreach (var kv in node.Attributes)
        {
            var def = info.Attributes.FirstOrDefault(a => a.Name == kv.Key);
            if (def == null)
            {
                var known = info.Attributes.Count == 0 ? "none" : string.Join(", ", info.Attributes.Select(a => a.Name));
                throw new CompileException($"%{node.Name} = {node.Op}: unknown attribute '{kv.Key}' (known: {known})");
            }

            var ok = def.Kind switch
            {
                AttrKind.Int => int.TryParse(kv.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
                AttrKind.Float => float.TryParse(kv.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
                AttrKind.Flag => kv.Value is "0" or "1",
                _ => true,
            };
            if (!ok)
            {
                throw new CompileException($"%{node.Name} = {node.Op}: attribute '{kv.Key}' must be {(def.Kind == AttrKind.Flag ? "0 or 1" : "a" + (def.Kind == AttrKind.Int ? "n integer" : " number"))}, got '{kv.Value}'");
            }
        }
    }
}
