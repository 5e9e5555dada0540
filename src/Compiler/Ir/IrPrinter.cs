using System.Linq;
using System.Text;

namespace Wudao.Compiler.Ir;

/// <summary>Prints a graph in the text form that <see cref="IrParser"/> reads back.</summary>
public static class IrPrinter
{
    public static string Print(Graph graph)
    {
        var sb = new StringBuilder();
        sb.Append("graph ").Append(graph.Name).Append('(')
          .Append(string.Join(", ", graph.Inputs.Select(i => $"%{i.Key}: {i.Value}")))
          .Append(") -> (")
          .Append(string.Join(", ", graph.Outputs.Select(o => "%" + o)))
          .Append(")\n");
        foreach (var node in graph.Nodes)
        {
            sb.Append("  ").Append(PrintNode(node)).Append('\n');
        }

        return sb.ToString();
    }

    public static string PrintNode(Node node)
    {
        var sb = new StringBuilder();
        sb.Append(string.Join(", ", node.Results.Select(r => "%" + r))).Append(" = ").Append(node.Op);
        if (node.Operands.Count > 0)
        {
            sb.Append(' ').Append(string.Join(", ", node.Operands.Select(o => "%" + o)));
        }

        if (node.Attributes.Count > 0)
        {
            sb.Append(" {").Append(string.Join(", ", node.Attributes.Select(a => $"{a.Key}={Quote(a.Value)}"))).Append('}');
        }

        if (node.Types.All(t => t != null))
        {
            sb.Append(" : ").Append(string.Join(", ", node.Types.Select(t => t!.ToString())));
        }

        return sb.ToString();
    }

    /// <summary>Numbers and identifiers print bare; anything else is quoted, line breaks escaped (the text form is line-based).</summary>
    private static string Quote(string value)
    {
        var bare = value.Length > 0 && value.All(c => char.IsLetterOrDigit(c) || c is '_' or '.' or '-' or '+')
            && (char.IsLetter(value[0]) || char.IsDigit(value[0]) || value[0] is '-' or '_');
        return bare ? value : "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r") + "\"";
    }
}
