using Wudao.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Text;

/// <summary>tiktoken encodings from the data packages, against ids published with tiktoken.</summary>
public sealed class TiktokenTests
{
    [Theory]
    [InlineData("cl100k_base", "hello world", new[] { 15339, 1917 })]
    [InlineData("gpt2", "hello world", new[] { 31373, 995 })]
    [InlineData("gpt2", "Hello, world!", new[] { 15496, 11, 995, 0 })]
    [InlineData("cl100k_base", "<|endoftext|>", new[] { 100257 })]
    public void Known_ids(string encoding, string text, int[] expected)
    {
        Assert.Equal(expected, TextTokenizer.Tiktoken(encoding).Encode(text));
    }

    [Theory]
    [InlineData("cl100k_base", 100277, 100257)]
    [InlineData("gpt2", 50257, 50256)]
    public void Size_and_eos(string encoding, int size, int eos)
    {
        var tokenizer = TextTokenizer.Tiktoken(encoding);
        Assert.Equal(size, tokenizer.VocabularySize);
        Assert.Equal(eos, tokenizer.EosId);
        Assert.Null(tokenizer.BosId);
    }

    [Fact]
    public void Cl100k_round_trips_the_multilingual_text()
    {
        var tokenizer = TextTokenizer.Tiktoken("cl100k_base");
        Assert.Equal(MultilingualText.Corpus, tokenizer.Decode(tokenizer.Encode(MultilingualText.Corpus)));
    }

    [Fact]
    public void An_unknown_encoding_is_named()
    {
        var e = Assert.Throws<System.ArgumentException>(() => TextTokenizer.Tiktoken("cl200k"));
        Assert.Contains("cl200k", e.Message, System.StringComparison.Ordinal);
    }
}
