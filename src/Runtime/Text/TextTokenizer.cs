using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.Tokenizers;

namespace Wudao.Text;

/// <summary>
/// Text to token ids and back, over a Microsoft.ML.Tokenizers <see cref="Tokenizer"/>: a Hugging Face
/// byte-level BPE <c>tokenizer.json</c>, a SentencePiece (Llama) <c>tokenizer.model</c>, or a tiktoken
/// encoding. Knows the vocabulary size (so a model can be checked against it) and BOS/EOS where defined.
/// </summary>
public sealed class TextTokenizer
{
    // tiktoken's n_vocab per encoding: the highest id (mergeable or special) + 1. The library does
    // not expose its rank table, and the ids are not contiguous (cl100k_base has none at 100256).
    private static readonly Dictionary<string, int> TiktokenSizes = new(StringComparer.Ordinal)
    {
        ["gpt2"] = 50257,
        ["r50k_base"] = 50257,
        ["p50k_base"] = 50281,
        ["p50k_edit"] = 50284,
        ["cl100k_base"] = 100277,
        ["o200k_base"] = 200019,
    };

    private readonly bool _addPrefixSpace;

    private TextTokenizer(Tokenizer inner, int vocabularySize, int? bos, int? eos, bool addPrefixSpace)
    {
        Inner = inner;
        VocabularySize = vocabularySize;
        BosId = bos;
        EosId = eos;
        _addPrefixSpace = addPrefixSpace;
    }

    /// <summary>The library tokenizer, for what this wrapper does not expose.</summary>
    public Tokenizer Inner { get; }

    /// <summary>Ids are in [0, VocabularySize): a model's Vocab must be at least this.</summary>
    public int VocabularySize { get; }

    /// <summary>The beginning-of-sequence id, where the format defines one (or the loader was told it).</summary>
    public int? BosId { get; }

    /// <summary>The end-of-sequence id, where defined: text generation stops there.</summary>
    public int? EosId { get; }

    /// <summary>
    /// Loads a Hugging Face <c>tokenizer.json</c> holding a byte-level BPE (<c>model.type = "BPE"</c>,
    /// <c>model.vocab</c>, <c>model.merges</c> as <c>"a b"</c> or <c>["a", "b"]</c>, <c>added_tokens</c>,
    /// a ByteLevel pre-tokenizer and decoder). The file does not say which tokens are BOS and EOS
    /// (<c>tokenizer_config.json</c> does): name them in <paramref name="bosToken"/> and <paramref name="eosToken"/>;
    /// <see cref="Encode"/> does not add BOS (its post-processor is not read), so a model that expects it
    /// needs it written at the start of the prompt.
    /// Throws <see cref="TokenizerFormatException"/> naming the field for a malformed or unsupported file.
    /// </summary>
    public static TextTokenizer LoadHuggingFace(string path, string? bosToken = null, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parsed = HuggingFaceBpeFile.Read(path);
        int? Id(string? token, string argument)
        {
            if (token is null)
            {
                return null;
            }

            if (parsed.AddedTokens.TryGetValue(token, out var added))
            {
                return added;
            }

            return parsed.Tokenizer.Vocabulary.TryGetValue(token, out var id)
                ? id
                : throw new ArgumentException($"{path}: \"{token}\" is neither in added_tokens nor in model.vocab", argument);
        }

        return new TextTokenizer(parsed.Tokenizer, parsed.VocabularySize, Id(bosToken, nameof(bosToken)), Id(eosToken, nameof(eosToken)), parsed.AddPrefixSpace);
    }

    /// <summary>
    /// Loads a SentencePiece <c>tokenizer.model</c> (Llama, Mistral) through the library's
    /// <see cref="LlamaTokenizer"/>; <see cref="Encode"/> puts BOS first when <paramref name="addBos"/> is set.
    /// </summary>
    public static TextTokenizer LoadSentencePiece(string path, bool addBos = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        LlamaTokenizer llama;
        using var stream = File.OpenRead(path);
        try
        {
            llama = LlamaTokenizer.Create(stream, addBeginOfSentence: addBos, addEndOfSentence: false);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            // Protobuf's parse errors are IOExceptions; the library's own checks throw the others.
            throw new TokenizerFormatException(path, "(file)", $"not a SentencePiece model the library can read: {e.Message}", e);
        }

        var size = llama.Vocabulary.Values.Max() + 1;
        return new TextTokenizer(llama, size, llama.BeginningOfSentenceId, llama.EndOfSentenceId, addPrefixSpace: false);
    }

    /// <summary>
    /// A tiktoken encoding by name: <c>cl100k_base</c>, <c>o200k_base</c>, <c>p50k_base</c>,
    /// <c>p50k_edit</c>, <c>r50k_base</c>, or <c>gpt2</c>. Its data comes from the matching
    /// <c>Microsoft.ML.Tokenizers.Data.*</c> package, which the application references
    /// (Cl100kBase, O200kBase, P50kBase, R50kBase, Gpt2). EOS is <c>&lt;|endoftext|&gt;</c>.
    /// </summary>
    public static TextTokenizer Tiktoken(string encodingName)
    {
        ArgumentNullException.ThrowIfNull(encodingName);
        if (!TiktokenSizes.TryGetValue(encodingName, out var size))
        {
            throw new ArgumentException($"unknown tiktoken encoding \"{encodingName}\"; known: {string.Join(", ", TiktokenSizes.Keys)}", nameof(encodingName));
        }

        // The gpt2 data package is reached through the model name; the rest by encoding name.
        var tiktoken = encodingName == "gpt2" ? TiktokenTokenizer.CreateForModel("gpt2") : TiktokenTokenizer.CreateForEncoding(encodingName);
        int? eos = tiktoken.SpecialTokens is { } specials && specials.TryGetValue("<|endoftext|>", out var id) ? id : null;
        return new TextTokenizer(tiktoken, size, bos: null, eos, addPrefixSpace: false);
    }

    /// <summary>Wraps a library tokenizer built some other way; <paramref name="vocabularySize"/> bounds its ids.</summary>
    public static TextTokenizer Wrap(Tokenizer tokenizer, int vocabularySize, int? bosId = null, int? eosId = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        return new TextTokenizer(tokenizer, vocabularySize, bosId, eosId, addPrefixSpace: false);
    }

    /// <summary>The ids of <paramref name="text"/>; special tokens written in the text become their ids.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_addPrefixSpace && (text.Length == 0 || !char.IsWhiteSpace(text[0])))
        {
            // HF ByteLevel's add_prefix_space: the first word is tokenized as if a space preceded it.
            text = " " + text;
        }

        return Inner.EncodeToIds(text).ToArray();
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. Ids outside [0, VocabularySize) have no text and are
    /// skipped (a model's padded vocabulary can name them); bytes that do not form UTF-8 become U+FFFD.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Inner.Decode(ids.Where(id => id >= 0 && id < VocabularySize));
    }
}
