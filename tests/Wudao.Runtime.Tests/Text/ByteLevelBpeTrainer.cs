using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Wudao.Runtime.Tests.Text;

/// <summary>
/// Trains a tiny byte-level BPE the GPT-2 way (the GPT-2 split pattern, bytes mapped to printable
/// characters, the most frequent pair merged first) and writes it as a Hugging Face tokenizer.json.
/// Also encodes with its own merges, independently of the library, to check the library's ids.
/// </summary>
internal sealed class ByteLevelBpeTrainer
{
    private static readonly Regex Gpt2Split = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");

    public static readonly char[] ByteChars = BuildByteChars();

    private ByteLevelBpeTrainer(List<(string Left, string Right)> merges, Dictionary<string, int> vocab, Dictionary<string, int> added)
    {
        Merges = merges;
        Vocab = vocab;
        Added = added;
    }

    public List<(string Left, string Right)> Merges { get; }

    public Dictionary<string, int> Vocab { get; }

    public Dictionary<string, int> Added { get; }

    /// <summary>Ids: bytes 0–255, then one per merge, then <paramref name="addedTokens"/>.</summary>
    public static ByteLevelBpeTrainer Train(string text, int merges, params string[] addedTokens)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var b = 0; b < 256; b++)
        {
            vocab[ByteChars[b].ToString()] = b;
        }

        var words = Gpt2Split.Matches(text).Select(m => m.Value).GroupBy(w => w, StringComparer.Ordinal)
            .Select(g => (Symbols: ToByteChars(g.Key).Select(c => c.ToString()).ToList(), Count: g.Count())).ToList();
        var learned = new List<(string, string)>();
        while (learned.Count < merges)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
                }
            }

            // Most frequent first; ties by ordinal order, so the training is deterministic.
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1, StringComparer.Ordinal).ThenBy(p => p.Key.Item2, StringComparer.Ordinal).First().Key;
            learned.Add(best);
            vocab[best.Item1 + best.Item2] = vocab.Count;
            foreach (var (symbols, _) in words)
            {
                MergeAll(symbols, best.Item1, best.Item2);
            }
        }

        var added = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in addedTokens)
        {
            added[token] = vocab.Count + added.Count;
        }

        return new ByteLevelBpeTrainer(learned, vocab, added);
    }

    public int Size => Vocab.Count + Added.Count;

    /// <summary>The ids GPT-2's algorithm gives: split on added tokens, then the pattern, then lowest-rank merges first.</summary>
    public List<int> Encode(string text)
    {
        var ranks = Merges.Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i);
        var ids = new List<int>();
        var specials = Added.Count == 0 ? null : new Regex(string.Join('|', Added.Keys.Select(Regex.Escape)));
        var start = 0;
        foreach (Match special in specials?.Matches(text) ?? (IEnumerable<Match>)Array.Empty<Match>())
        {
            EncodeOrdinary(text[start..special.Index], ranks, ids);
            ids.Add(Added[special.Value]);
            start = special.Index + special.Length;
        }

        EncodeOrdinary(text[start..], ranks, ids);
        return ids;
    }

    public string Json(bool pairMerges, string? modelType = "BPE")
    {
        var model = new Dictionary<string, object?>
        {
            ["type"] = modelType,
            ["dropout"] = null,
            ["unk_token"] = null,
            ["continuing_subword_prefix"] = null,
            ["end_of_word_suffix"] = null,
            ["fuse_unk"] = false,
            ["byte_fallback"] = false,
            ["vocab"] = Vocab,
            ["merges"] = pairMerges ? Merges.Select(m => (object)new[] { m.Left, m.Right }).ToList() : Merges.Select(m => (object)(m.Left + " " + m.Right)).ToList(),
        };
        var file = new Dictionary<string, object?>
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = Added.Select(a => new Dictionary<string, object> { ["id"] = a.Value, ["content"] = a.Key, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true }).ToList(),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new Dictionary<string, object> { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = model,
        };
        return JsonSerializer.Serialize(file, new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public string Write(string directory, bool pairMerges)
    {
        var path = Path.Combine(directory, pairMerges ? "tokenizer.pairs.json" : "tokenizer.json");
        File.WriteAllText(path, Json(pairMerges));
        return path;
    }

    private void EncodeOrdinary(string text, Dictionary<(string, string), int> ranks, List<int> ids)
    {
        foreach (Match word in Gpt2Split.Matches(text))
        {
            var symbols = ToByteChars(word.Value).Select(c => c.ToString()).ToList();
            while (true)
            {
                var best = -1;
                var bestRank = int.MaxValue;
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (ranks.TryGetValue((symbols[i], symbols[i + 1]), out var rank) && rank < bestRank)
                    {
                        (best, bestRank) = (i, rank);
                    }
                }

                if (best < 0)
                {
                    break;
                }

                MergeAll(symbols, symbols[best], symbols[best + 1]);
            }

            ids.AddRange(symbols.Select(s => Vocab[s]));
        }
    }

    private static void MergeAll(List<string> symbols, string left, string right)
    {
        for (var i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
            {
                symbols[i] = left + right;
                symbols.RemoveAt(i + 1);
            }
        }
    }

    private static string ToByteChars(string text) => new(Encoding.UTF8.GetBytes(text).Select(b => ByteChars[b]).ToArray());

    /// <summary>GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest move to 256 and up.</summary>
    private static char[] BuildByteChars()
    {
        var chars = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= '¡' && b <= '¬') || (b >= '®' && b <= 'ÿ');
            chars[b] = printable ? (char)b : (char)next++;
        }

        return chars;
    }
}
