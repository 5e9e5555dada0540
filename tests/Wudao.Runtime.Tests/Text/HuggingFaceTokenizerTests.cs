using System.Linq;
using System.Text.Json.Nodes;
using Wudao.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Text;

/// <summary>A byte-level BPE tokenizer.json trained here, read through Microsoft.ML.Tokenizers, against GPT-2's algorithm.</summary>
public sealed class HuggingFaceTokenizerTests(TokenizerFiles files) : IClassFixture<TokenizerFiles>
{
    [Fact]
    public void Ids_are_gpt2_byte_level_bpe_and_round_trip_the_multilingual_text()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);
        var ids = tokenizer.Encode(MultilingualText.Corpus);

        Assert.Equal(files.Bpe.Encode(MultilingualText.Corpus), ids);
        Assert.Contains(ids, id => id >= 256); // the merges were used, not only bytes
        Assert.Equal(MultilingualText.Corpus, tokenizer.Decode(ids));
    }

    [Theory]
    [InlineData("über 狐狸 🦊 #tags it's")]
    [InlineData("  leading and trailing spaces  ")]
    [InlineData("a<|endoftext|>b")]
    public void Other_texts_match_the_reference_and_round_trip(string text)
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);
        var ids = tokenizer.Encode(text);

        Assert.Equal(files.Bpe.Encode(text), ids);
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Both_merge_forms_give_the_same_ids()
    {
        var strings = TextTokenizer.LoadHuggingFace(files.StringMerges);
        var pairs = TextTokenizer.LoadHuggingFace(files.PairMerges);

        Assert.Contains("[", System.IO.File.ReadAllText(files.PairMerges).Split("\"merges\"")[1][..20]);
        Assert.Equal(strings.Encode(MultilingualText.Corpus), pairs.Encode(MultilingualText.Corpus));
    }

    [Fact]
    public void A_split_then_byte_level_pre_tokenizer_as_llama3_writes_it_gives_the_same_ids()
    {
        var json = JsonNode.Parse(files.Bpe.Json(pairMerges: true))!;
        json["pre_tokenizer"] = JsonNode.Parse("""
            {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
              {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
            """);
        var path = files.WriteFile("split.json", json.ToJsonString());

        Assert.Equal(files.Bpe.Encode(MultilingualText.Corpus), TextTokenizer.LoadHuggingFace(path).Encode(MultilingualText.Corpus));
    }

    [Fact]
    public void Add_prefix_space_encodes_the_first_word_as_if_a_space_preceded_it()
    {
        var json = JsonNode.Parse(files.Bpe.Json(pairMerges: false))!;
        json["pre_tokenizer"]!["add_prefix_space"] = true;
        var path = files.WriteFile("prefix-space.json", json.ToJsonString());
        var tokenizer = TextTokenizer.LoadHuggingFace(path);

        Assert.Equal(files.Bpe.Encode(" the fox"), tokenizer.Encode("the fox"));
        Assert.Equal(files.Bpe.Encode(" the fox"), tokenizer.Encode(" the fox"));
    }

    [Fact]
    public void Size_counts_added_tokens_and_bos_eos_are_named_by_the_caller()
    {
        var plain = TextTokenizer.LoadHuggingFace(files.StringMerges);
        var named = TextTokenizer.LoadHuggingFace(files.StringMerges, bosToken: "<|endoftext|>", eosToken: "<|endoftext|>");

        Assert.Equal(300, plain.VocabularySize);
        Assert.Null(plain.EosId);
        Assert.Equal(299, named.EosId);
        Assert.Equal(299, named.BosId);
        Assert.Equal(new[] { 299 }, named.Encode("<|endoftext|>"));
    }

    [Fact]
    public void An_unknown_eos_token_is_named()
    {
        var e = Assert.Throws<System.ArgumentException>(() => TextTokenizer.LoadHuggingFace(files.StringMerges, eosToken: "</s>"));
        Assert.Contains("</s>", e.Message, System.StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("model.type", "WordPiece", "model.type")]
    [InlineData("model.byte_fallback", true, "model.byte_fallback")]
    [InlineData("model.dropout", 0.1, "model.dropout")]
    [InlineData("model.vocab", null, "model.vocab")]
    [InlineData("model.merges", "Ġ t", "model.merges")]
    [InlineData("model.ignore_merges", true, "model.ignore_merges")]
    [InlineData("pre_tokenizer.use_regex", false, "pre_tokenizer.use_regex")]
    [InlineData("decoder.type", "Metaspace", "decoder.type")]
    [InlineData("pre_tokenizer.type", "Whitespace", "pre_tokenizer")]
    [InlineData("normalizer", "NFC", "normalizer")]
    public void Unsupported_or_malformed_fields_are_named(string field, object? value, string expectedField)
    {
        var json = JsonNode.Parse(files.Bpe.Json(pairMerges: false))!;
        var parts = field.Split('.');
        var parent = parts.Length == 1 ? json : json[parts[0]]!;
        parent[parts[^1]] = value switch
        {
            null => null,
            string s => JsonValue.Create(s),
            bool b => JsonValue.Create(b),
            double d => JsonValue.Create(d),
            _ => throw new System.ArgumentException("value"),
        };
        var path = files.WriteFile($"bad-{field}.json", json.ToJsonString());

        var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.LoadHuggingFace(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(expectedField, e.Field);
        Assert.StartsWith(path + ": " + expectedField, e.Message, System.StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_merge_entry_is_named_by_its_index()
    {
        var json = JsonNode.Parse(files.Bpe.Json(pairMerges: true))!;
        json["model"]!["merges"]![5] = new JsonArray("Ġ", "not-in-vocab");
        var path = files.WriteFile("bad-merge.json", json.ToJsonString());

        var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.LoadHuggingFace(path));
        Assert.Equal("model.merges[5]", e.Field);
    }

    [Fact]
    public void A_merge_string_that_is_not_two_tokens_is_named_by_its_index()
    {
        var json = JsonNode.Parse(files.Bpe.Json(pairMerges: false))!;
        json["model"]!["merges"]![2] = "th e x";
        var path = files.WriteFile("bad-merge-string.json", json.ToJsonString());

        var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.LoadHuggingFace(path));
        Assert.Equal("model.merges[2]", e.Field);
    }

    [Fact]
    public void Text_that_is_not_json_is_named()
    {
        var path = files.WriteFile("not-json.json", "{ \"model\": ");
        var e = Assert.Throws<TokenizerFormatException>(() => TextTokenizer.LoadHuggingFace(path));
        Assert.Equal("(file)", e.Field);
    }

    [Fact]
    public void Added_tokens_in_the_middle_of_text_become_their_ids()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(files.StringMerges);
        var ids = tokenizer.Encode("fox<|endoftext|>dog");
        Assert.Equal(1, ids.Count(id => id == 299));
    }
}
