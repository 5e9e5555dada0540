using System;

namespace Wudao.Text;

/// <summary>A tokenizer file that is malformed or describes something this loader does not support; names the file and the field.</summary>
public sealed class TokenizerFormatException : Exception
{
    /// <summary>Creates the exception for <paramref name="field"/> of <paramref name="path"/>.</summary>
    public TokenizerFormatException(string path, string field, string problem, Exception? inner = null)
        : base($"{path}: {field}: {problem}", inner)
    {
        FilePath = path;
        Field = field;
    }

    /// <summary>The tokenizer file.</summary>
    public string FilePath { get; }

    /// <summary>The JSON path (or part of the file) at fault, e.g. <c>model.merges[3]</c>.</summary>
    public string Field { get; }
}
