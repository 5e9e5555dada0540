using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Wudao.Tool;

/// <summary>
/// A plain-text table: a header, rows, optional total rows under a rule, columns padded to their
/// widest cell (numbers right-aligned). No control codes, so it reads the same on a terminal,
/// in a file, or in a test.
/// </summary>
public sealed class TextTable
{
    private readonly string[] _headers;
    private readonly bool[] _right;
    private readonly List<string[]> _rows = new();
    private readonly List<string[]> _totals = new();

    /// <summary>Columns by header; a header starting with '>' is right-aligned (the '>' is not shown).</summary>
    public TextTable(params string[] headers)
    {
        _right = headers.Select(h => h.StartsWith('>')).ToArray();
        _headers = headers.Select(h => h.TrimStart('>')).ToArray();
    }

    public int Count => _rows.Count;

    public void Add(params string[] cells) => _rows.Add(Fit(cells));

    public void Total(params string[] cells) => _totals.Add(Fit(cells));

    public string Render(string indent = "  ")
    {
        var widths = _headers.Select((h, i) => _rows.Concat(_totals).Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var sb = new StringBuilder();
        void Line(string[] cells)
        {
            var padded = cells.Select((c, i) => _right[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]));
            sb.Append(indent).Append(string.Join("  ", padded).TrimEnd()).Append('\n');
        }

        Line(_headers);
        foreach (var row in _rows)
        {
            Line(row);
        }

        if (_totals.Count > 0)
        {
            sb.Append(indent).Append(new string('-', widths.Sum() + (2 * (widths.Length - 1)))).Append('\n');
            foreach (var total in _totals)
            {
                Line(total);
            }
        }

        return sb.ToString();
    }

    private string[] Fit(string[] cells) => cells.Length == _headers.Length
        ? cells
        : throw new ArgumentException($"a row of {cells.Length} cells in a table of {_headers.Length} columns", nameof(cells));
}
