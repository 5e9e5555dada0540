using System.Collections.Generic;
using System.Linq;
using System.Text;
using Wudao.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Text;

/// <summary>Pieces as ids arrive: whole characters only, concatenating to the decoding of all the ids.</summary>
public sealed class IncrementalDecoderTests(TokenizerFiles files) : IClassFixture<TokenizerFiles>
{
    private static List<string> Pieces(TextTokenizer tokenizer, IEnumerable<int> ids)
    {
        var decoder = new IncrementalDecoder(tokenizer);
        var pieces = ids.Select(decoder.Push).ToList();
        pieces.Add(decoder.Flush());
        return pieces;
    }

    [Fact]
    public void A_cjk_character_and_an_emoji_split_across_cl100k_tokens_arrive_whole()
    {
        var tokenizer = TextTokenizer.Tiktoken("cl100k_base");
        var ids = tokenizer.Encode("龘🦙");
        Assert.Equal(new[] { 84012, 246, 9468, 99, 247 }, ids); // each character is more than one token

        var pieces = Pieces(tokenizer, ids);

        Assert.Equal(new[] { string.Empty, "龘", string.Empty, string.Empty, "🦙", string.Empty }, pieces);
    }

    [Fact]
    public void Byte_level_bpe_emits_each_character_whole_over_the_multilingual_text()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);
        var ids = tokenizer.Encode(MultilingualText.Corpus);
        Assert.True(ids.Length > Encoding.UTF8.GetByteCount(MultilingualText.Corpus) / 3); // most non-ASCII characters are several tokens

        var pieces = Pieces(tokenizer, ids);

        Assert.Equal(MultilingualText.Corpus, string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD', System.StringComparison.Ordinal));
        Assert.Contains(string.Empty, pieces.Take(ids.Length)); // some ids completed nothing
    }

    [Fact]
    public void Bytes_that_never_form_a_character_flush_as_decoding_all_at_once_would()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);
        int[] ids = [0xE4, 0xB8, (int)'a', 0x80, 0xF0, 0x9F]; // a truncated 中, 'a', a stray continuation byte, a truncated emoji

        var pieces = Pieces(tokenizer, ids);

        Assert.Equal(tokenizer.Decode(ids), string.Concat(pieces));
        Assert.Equal("\uFFFDa\uFFFD\uFFFD", string.Concat(pieces));
    }

    [Fact]
    public void A_run_of_bytes_that_cannot_form_characters_is_not_held_to_the_end()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);

        // Each 0xC3 is shown invalid by the next byte; only the last one might still be completed.
        var pieces = Pieces(tokenizer, [0xC3, 0xC3, 0xC3, 0xA9]);

        Assert.Equal(new[] { string.Empty, "\uFFFD", "\uFFFD", "é", string.Empty }, pieces);
    }

    [Fact]
    public void Ids_outside_the_tokenizer_decode_to_nothing()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);
        Assert.Equal("ab", tokenizer.Decode([(int)'a', 300, 4000, (int)'b']));
    }
}
