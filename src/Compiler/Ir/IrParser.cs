using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Wudao.Compiler.Ir;

/// <summary>
/// Reads the text form printed by <see cref="IrPrinter"/>. Types after ':' are optional on
/// computed nodes (shape inference fills them). Errors name the line and column.
/// </summary>
public sealed class IrParser
{
    private readonly string _line;
    private readonly int _lineNo;
    private int _pos;

    private IrParser(string line, int lineNo)
    {
        _line = line;
        _lineNo = lineNo;
    }

    public static Graph Parse(string text)
    {
        string? name = null;
        var inputs = new List<KeyValuePair<string, TensorType>>();
        var outputs = new List<string>();
        var nodes = new List<Node>();
        var lines = text.Replace("\r\n", "\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var p = new IrParser(lines[i], i + 1);
            p.SkipSpace();
            if (p.AtEnd)
            {
                continue;
            }

            if (name == null)
            {
                p.Expect("graph");
                name = p.Ident();
                p.Expect("(");
                while (!p.TryEat(")"))
                {
                    if (inputs.Count > 0)
                    {
                        p.Expect(",");
                    }

                    var input = p.Value();
                    p.Expect(":");
                    inputs.Add(new KeyValuePair<string, TensorType>(input, p.Type()));
                }

                p.Expect("->");
                p.Expect("(");
                while (!p.TryEat(")"))
                {
                    if (outputs.Count > 0)
                    {
                        p.Expect(",");
                    }

                    outputs.Add(p.Value());
                }
            }
            else
            {
                nodes.Add(p.NodeLine());
            }

            p.EndOfLine();
        }

        if (name == null)
        {
            throw new CompileException("IR text has no 'graph' header");
        }

        return new Graph(name, inputs, nodes, outputs);
    }

    private bool AtEnd => _pos >= _line.Length || _line[_pos] == '#';

    private Node NodeLine()
    {
        var results = new List<string> { Value() };
        while (TryEat(","))
        {
            results.Add(Value());
        }

        Expect("=");
        var op = Ident();
        var operands = new List<string>();
        SkipSpace();
        if (!AtEnd && _line[_pos] == '%')
        {
            operands.Add(Value());
            while (TryEat(","))
            {
                operands.Add(Value());
            }
        }

        var attributes = new List<KeyValuePair<string, string>>();
        if (TryEat("{"))
        {
            while (!TryEat("}"))
            {
                if (attributes.Count > 0)
                {
                    Expect(",");
                }

                var key = Ident();
                Expect("=");
                attributes.Add(new KeyValuePair<string, string>(key, AttrValue()));
            }
        }

        List<TensorType?>? types = null;
        if (TryEat(":"))
        {
            types = new List<TensorType?> { Type() };
            while (TryEat(","))
            {
                types.Add(Type());
            }

            if (types.Count != results.Count)
            {
                throw Error($"{results.Count} results but {types.Count} types");
            }
        }

        return new Node(op, results, operands, attributes, types);
    }

    private TensorType Type()
    {
        var dt = Ident();
        if (!DTypes.TryParse(dt, out var dtype))
        {
            throw Error($"unknown element type '{dt}' (expected f32 or i32)");
        }

        Expect("[");
        var dims = new List<Dim>();
        while (!TryEat("]"))
        {
            if (dims.Count > 0)
            {
                Expect(",");
            }

            SkipSpace();
            var start = _pos;
            if (start < _line.Length && char.IsDigit(_line[start]))
            {
                while (_pos < _line.Length && char.IsDigit(_line[_pos]))
                {
                    _pos++;
                }

                if (!int.TryParse(_line.Substring(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out var size))
                {
                    throw Error("dimension does not fit in 32 bits");
                }

                dims.Add(size);
            }
            else
            {
                dims.Add(Dim.Sym(Ident()));
            }
        }

        return new TensorType(dtype, dims.ToArray());
    }

    private string AttrValue()
    {
        SkipSpace();
        if (_pos < _line.Length && _line[_pos] == '"')
        {
            var sb = new StringBuilder();
            _pos++;
            while (_pos < _line.Length && _line[_pos] != '"')
            {
                if (_line[_pos] == '\\' && _pos + 1 < _line.Length)
                {
                    _pos++;
                    sb.Append(_line[_pos] switch { 'n' => '\n', 'r' => '\r', var c => c });
                    _pos++;
                    continue;
                }

                sb.Append(_line[_pos++]);
            }

            if (_pos >= _line.Length)
            {
                throw Error("unterminated string");
            }

            _pos++;
            return sb.ToString();
        }

        var s = _pos;
        while (_pos < _line.Length && (char.IsLetterOrDigit(_line[_pos]) || _line[_pos] is '_' or '.' or '-' or '+'))
        {
            _pos++;
        }

        return s == _pos ? throw Error("expected an attribute value") : _line.Substring(s, _pos - s);
    }

    private string Value()
    {
        Expect("%");
        return Ident();
    }

    private string Ident()
    {
        SkipSpace();
        var s = _pos;
        while (_pos < _line.Length && (char.IsLetterOrDigit(_line[_pos]) || _line[_pos] == '_' || (_line[_pos] == '.' && _pos > s)))
        {
            _pos++;
        }

        return s == _pos ? throw Error("expected a name") : _line.Substring(s, _pos - s);
    }

    private bool TryEat(string token)
    {
        SkipSpace();
        if (string.CompareOrdinal(_line, _pos, token, 0, token.Length) == 0)
        {
            _pos += token.Length;
            return true;
        }

        return false;
    }

    private void Expect(string token)
    {
        if (!TryEat(token))
        {
            throw Error($"expected '{token}'");
        }
    }

    private void EndOfLine()
    {
        SkipSpace();
        if (!AtEnd)
        {
            throw Error("unexpected text");
        }
    }

    private void SkipSpace()
    {
        while (_pos < _line.Length && char.IsWhiteSpace(_line[_pos]))
        {
            _pos++;
        }
    }

    private CompileException Error(string message) =>
        new($"IR line {_lineNo}, column {_pos + 1}: {message}: {_line.Trim()}");
}
