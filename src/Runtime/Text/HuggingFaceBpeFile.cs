using System;
using System.Collections.Generic;
using System.IO;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Wudao.Text;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> that holds a byte-level BPE (GPT-2, RoBERTa, Llama 3,
/// Qwen style) into Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>, which cannot read the file
/// itself. Anything the library would not reproduce exactly (another model type, byte fallback,
/// dropout, a normalizer, another pre-tokenizer) is refused with the field named rather than
/// tokenized differently from the original.
/// </summary>
internal static class HuggingFaceBpeFile
{
    // The GPT-2 pattern that HF's ByteLevel pre-tokenizer applies when use_regex is true.
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    internal sealed record Parsed(BpeTokenizer Tokenizer, int VocabularySize, bool AddPrefixSpace, IReadOnlyDictionary<string, int> AddedTokens);

    public static Parsed Read(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(path, "(file)", $"not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerFormatException(path, "(root)", "expected a JSON object");
            }

            var model = Property(path, root, "model", JsonValueKind.Object, "model");
            var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type != "BPE")
            {
                throw new TokenizerFormatException(path, "model.type", $"is {(type is null ? "missing" : $"\"{type}\"")}; only \"BPE\" (byte-level) is supported");
            }

            RefuseIfSet(path, model, "byte_fallback", "model.byte_fallback", "byte fallback (SentencePiece-style BPE) is not supported; load the tokenizer.model instead");
            RefuseIfSet(path, model, "ignore_merges", "model.ignore_merges", "whole-word lookup before merging is not supported by the library's BPE");
            if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind != JsonValueKind.Null)
            {
                throw new TokenizerFormatException(path, "model.dropout", "BPE dropout is a training option; inference needs it null");
            }

            if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            {
                throw new TokenizerFormatException(path, "normalizer", "a normalizer is not supported (expected null)");
            }

            var vocab = ReadVocab(path, Property(path, model, "vocab", JsonValueKind.Object, "model.vocab"));
            var prefix = OptionalString(path, model, "continuing_subword_prefix", "model.continuing_subword_prefix");
            var merges = ReadMerges(path, Property(path, model, "merges", JsonValueKind.Array, "model.merges"), vocab, checkMerged: prefix is null);
            var added = ReadAddedTokens(path, root);
            var (pattern, addPrefixSpace) = ReadPreTokenizer(path, root);
            RequireByteLevelDecoder(path, root);

            var size = 0;
            foreach (var id in vocab.Values)
            {
                size = Math.Max(size, id + 1);
            }

            foreach (var id in added.Values)
            {
                size = Math.Max(size, id + 1);
            }

            var options = new BpeOptions(vocab)
            {
                Merges = merges,
                ByteLevel = true,
                SpecialTokens = added.Count > 0 ? added : null,
                PreTokenizer = new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), added.Count > 0 ? added : null),
                UnknownToken = OptionalString(path, model, "unk_token", "model.unk_token"),
                ContinuingSubwordPrefix = prefix,
                EndOfWordSuffix = OptionalString(path, model, "end_of_word_suffix", "model.end_of_word_suffix"),
                FuseUnknownTokens = model.TryGetProperty("fuse_unk", out var fuse) && fuse.ValueKind == JsonValueKind.True,
            };
            return new Parsed(BpeTokenizer.Create(options), size, addPrefixSpace, added);
        }
    }

    private static JsonElement Property(string path, JsonElement parent, string name, JsonValueKind kind, string field)
    {
        if (!parent.TryGetProperty(name, out var value))
        {
            throw new TokenizerFormatException(path, field, "is missing");
        }

        if (value.ValueKind != kind)
        {
            throw new TokenizerFormatException(path, field, $"expected {kind}, found {value.ValueKind}");
        }

        return value;
    }

    private static void RefuseIfSet(string path, JsonElement model, string name, string field, string why)
    {
        if (model.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True)
        {
            throw new TokenizerFormatException(path, field, why);
        }
    }

    private static string? OptionalString(string path, JsonElement parent, string name, string field)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new TokenizerFormatException(path, field, $"expected a string or null, found {value.ValueKind}");
    }

    private static Dictionary<string, int> ReadVocab(string path, JsonElement vocab)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new TokenizerFormatException(path, $"model.vocab[\"{entry.Name}\"]", $"expected a non-negative integer id, found {entry.Value.GetRawText()}");
            }

            result[entry.Name] = id;
        }

        if (result.Count == 0)
        {
            throw new TokenizerFormatException(path, "model.vocab", "is empty");
        }

        return result;
    }

    /// <summary>Merges in either form, <c>"a b"</c> or <c>["a", "b"]</c>, as the library's <c>"a b"</c> strings.</summary>
    private static List<string> ReadMerges(string path, JsonElement merges, Dictionary<string, int> vocab, bool checkMerged)
    {
        var result = new List<string>(merges.GetArrayLength());
        var index = 0;
        foreach (var merge in merges.EnumerateArray())
        {
            var field = $"model.merges[{index}]";
            string left, right;
            if (merge.ValueKind == JsonValueKind.String)
            {
                var text = merge.GetString()!;
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                if (space <= 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0)
                {
                    throw new TokenizerFormatException(path, field, $"\"{text}\" is not two tokens separated by one space");
                }

                (left, right) = (text[..space], text[(space + 1)..]);
            }
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
            {
                (left, right) = (merge[0].GetString()!, merge[1].GetString()!);
                if (left.Length == 0 || right.Length == 0 || left.Contains(' ', StringComparison.Ordinal) || right.Contains(' ', StringComparison.Ordinal))
                {
                    // The library takes merges as "a b" lines: a token holding a space cannot be said that way.
                    throw new TokenizerFormatException(path, field, $"[\"{left}\", \"{right}\"]: empty tokens or tokens holding a space are not supported");
                }
            }
            else
            {
                throw new TokenizerFormatException(path, field, $"expected \"a b\" or [\"a\", \"b\"], found {merge.GetRawText()}");
            }

            // With a continuing-subword prefix the merged token drops the right side's prefix: not checked.
            if (!vocab.ContainsKey(left) || !vocab.ContainsKey(right) || (checkMerged && !vocab.ContainsKey(left + right)))
            {
                throw new TokenizerFormatException(path, field, $"\"{left}\", \"{right}\" or their merge \"{left + right}\" is not in model.vocab");
            }

            result.Add(left + " " + right);
            index++;
        }

        return result;
    }

    private static Dictionary<string, int> ReadAddedTokens(string path, JsonElement root)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind == JsonValueKind.Null)
        {
            return result;
        }

        if (added.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerFormatException(path, "added_tokens", $"expected an array, found {added.ValueKind}");
        }

        var index = 0;
        foreach (var token in added.EnumerateArray())
        {
            var field = $"added_tokens[{index++}]";
            if (token.ValueKind != JsonValueKind.Object
                || !token.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out var value) || value < 0
                || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String || content.GetString()!.Length == 0)
            {
                throw new TokenizerFormatException(path, field, $"expected {{\"id\": non-negative integer, \"content\": non-empty string, ...}}, found {token.GetRawText()}");
            }

            result[content.GetString()!] = value;
        }

        return result;
    }

    /// <summary>The split pattern and add_prefix_space: ByteLevel alone, or Sequence [Split (regex, Isolated), ByteLevel without regex].</summary>
    private static (string Pattern, bool AddPrefixSpace) ReadPreTokenizer(string path, JsonElement root)
    {
        var pre = Property(path, root, "pre_tokenizer", JsonValueKind.Object, "pre_tokenizer");
        var type = pre.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type == "ByteLevel")
        {
            var useRegex = !pre.TryGetProperty("use_regex", out var r) || r.ValueKind != JsonValueKind.False;
            if (!useRegex)
            {
                throw new TokenizerFormatException(path, "pre_tokenizer.use_regex", "ByteLevel without its regex needs a Split before it");
            }

            return (Gpt2Pattern, AddPrefixSpace(pre));
        }

        if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() == 2)
        {
            var split = list[0];
            var byteLevel = list[1];
            if (split.TryGetProperty("type", out var st) && st.GetString() == "Split"
                && split.TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object
                && pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String
                && split.TryGetProperty("behavior", out var behavior) && behavior.GetString() == "Isolated"
                && !(split.TryGetProperty("invert", out var invert) && invert.ValueKind == JsonValueKind.True)
                && byteLevel.TryGetProperty("type", out var bt) && bt.GetString() == "ByteLevel"
                && byteLevel.TryGetProperty("use_regex", out var ur) && ur.ValueKind == JsonValueKind.False)
            {
                try
                {
                    _ = new Regex(regex.GetString()!);
                }
                catch (ArgumentException e)
                {
                    throw new TokenizerFormatException(path, "pre_tokenizer.pretokenizers[0].pattern.Regex", $".NET cannot compile it: {e.Message}", e);
                }

                return (regex.GetString()!, AddPrefixSpace(byteLevel));
            }
        }

        throw new TokenizerFormatException(path, "pre_tokenizer", $"type \"{type}\" in this shape is not supported: expected ByteLevel, or Sequence [Split (Regex, Isolated), ByteLevel (use_regex false)]");
    }

    private static bool AddPrefixSpace(JsonElement byteLevel) =>
        byteLevel.TryGetProperty("add_prefix_space", out var a) && a.ValueKind == JsonValueKind.True;

    private static void RequireByteLevelDecoder(string path, JsonElement root)
    {
        var decoder = Property(path, root, "decoder", JsonValueKind.Object, "decoder");
        var type = decoder.TryGetProperty("type", out var t) ? t.GetString() : null;
        if (type != "ByteLevel")
        {
            throw new TokenizerFormatException(path, "decoder.type", $"is \"{type}\"; only ByteLevel is supported");
        }
    }
}
