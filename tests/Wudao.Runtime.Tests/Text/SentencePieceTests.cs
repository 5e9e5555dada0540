using System.Linq;
using Wudao.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Text;

/// <summary>
/// A Llama-style SentencePiece BPE model written here (no trainer: the pieces and merge scores are
/// chosen), read through the library's LlamaTokenizer: merges, byte fallback, BOS, streaming.
/// </summary>
public sealed class SentencePieceTests(TokenizerFiles files) : IClassFixture<TokenizerFiles>
{
    private const string Text = "the fox and the dog 狐狸🦊";

    private TextTokenizer Load() => TextTokenizer.LoadSentencePiece(SentencePieceModelWriter.Write(files.Directory));

    private static int Id(string piece) => SentencePieceModelWriter.Pieces().IndexOf(piece);

    [Fact]
    public void Merges_by_score_bos_first_and_bytes_for_unknown_characters()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode(Text);

        Assert.Equal(new[] { 1, Id("▁the"), Id("▁fox"), Id("▁and"), Id("▁the"), Id("▁dog"), Id("▁") }, ids[..7]);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes("狐狸🦊").Select(b => Id($"<0x{b:X2}>")), ids[7..]);
        Assert.Equal(SentencePieceModelWriter.Pieces().Count, tokenizer.VocabularySize);
        Assert.Equal(1, tokenizer.BosId);
        Assert.Equal(2, tokenizer.EosId);
    }

    [Fact]
    public void Round_trips_and_streams_byte_fallback_characters_whole()
    {
        var tokenizer = Load();
        var ids = tokenizer.Encode(Text);
        var decoder = new IncrementalDecoder(tokenizer);
        var pieces = ids.Select(decoder.Push).Append(decoder.Flush()).ToList();

        Assert.Equal(Text, tokenizer.Decode(ids));
        Assert.Equal(Text, string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD', System.StringComparison.Ordinal));
        Assert.Contains("狐", pieces);
        Assert.Contains("🦊", pieces);
    }

    [Fact]
    public void After_a_prompt_a_word_keeps_its_leading_space()
    {
        var tokenizer = Load();

        Assert.Equal("the", new IncrementalDecoder(tokenizer).Push(Id("▁the")));
        Assert.Equal(" the", new IncrementalDecoder(tokenizer, tokenizer.Encode("the fox")).Push(Id("▁the")));
    }

    [Fact]
    public void A_file_that_is_not_a_sentencepiece_model_is_named()
    {
        var path = System.IO.Path.GetTempFileName();
        try
        {
            System.IO.File.WriteAllText(path, "this is not a protobuf");
            var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.LoadSentencePiece(path));
            Assert.Equal(path, e.FilePath);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }
}
