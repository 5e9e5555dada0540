using System;
using System.IO;

namespace Wudao.Runtime.Tests.Text;

/// <summary>A temporary folder holding tokenizer files the tests write; deleted with the fixture.</summary>
public sealed class TokenizerFiles : IDisposable
{
    public TokenizerFiles()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("wudao-text-").FullName;
        Bpe = ByteLevelBpeTrainer.Train(MultilingualText.Corpus, merges: 43, "<|endoftext|>");
        StringMerges = Bpe.Write(Directory, pairMerges: false);
        PairMerges = Bpe.Write(Directory, pairMerges: true);
    }

    public string Directory { get; }

    /// <summary>256 bytes + 43 merges + &lt;|endoftext|&gt;: 300 ids.</summary>
    internal ByteLevelBpeTrainer Bpe { get; }

    /// <summary>The tokenizer.json with merges as "a b" strings.</summary>
    public string StringMerges { get; }

    /// <summary>The same tokenizer with merges as ["a", "b"] pairs.</summary>
    public string PairMerges { get; }

    public string WriteFile(string name, string text)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
