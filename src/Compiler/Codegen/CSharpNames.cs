using System.Collections.Generic;
using System.Linq;

namespace Wudao.Compiler.Codegen;

/// <summary>Writes user-chosen names back as C# identifiers: reserved keywords get their '@'.</summary>
public static class CSharpNames
{
    private static readonly HashSet<string> Keywords = new(
        ("abstract as base bool break byte case catch char checked class const continue decimal default delegate do double else enum " +
         "event explicit extern false finally fixed float for foreach goto if implicit in int interface internal is lock long namespace " +
         "new null object operator out override params private protected public readonly ref return sbyte sealed short sizeof stackalloc " +
         "static string struct switch this throw true try typeof uint ulong unchecked unsafe ushort using virtual void volatile while").Split(' '));

    public static string Identifier(string name) => Keywords.Contains(name) ? "@" + name : name;

    /// <summary>A dotted namespace with each part escaped.</summary>
    public static string Namespace(string dotted) => string.Join(".", dotted.Split('.').Select(Identifier));

    /// <summary>The name with its namespace, unescaped (for keys and file names).</summary>
    public static string Qualified(string ns, string name) => ns.Length > 0 ? ns + "." + name : name;

    /// <summary>A float as a C# literal that round-trips (<c>1.25f</c>).</summary>
    public static string Float(float v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";

    /// <summary>Text as a C# verbatim string literal.</summary>
    public static string Verbatim(string text) => "@\"" + text.Replace("\"", "\"\"") + "\"";
}
