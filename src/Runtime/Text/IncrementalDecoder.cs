using System;
using System.Collections.Generic;

namespace Wudao.Text;

/// <summary>
/// Turns ids arriving one at a time into text pieces whose concatenation is the decoding of all
/// the ids. A character whose UTF-8 bytes are split across tokens is held back until its last byte
/// arrives, never emitted broken. Each step decodes a short window: the ids since the last emitted
/// piece, plus the ones before it as context, since SentencePiece decodes a leading "▁" differently
/// at the start of a text than after a word.
/// </summary>
public sealed class IncrementalDecoder
{
    private const char Replacement = '\uFFFD';

    private readonly TextTokenizer _tokenizer;
    private readonly List<int> _ids = new();
    private int _prefix; // start of the context window
    private int _read;   // ids up to here have been emitted
    private int _pending; // characters past the decoding of [_prefix, _read) already emitted

    /// <summary>
    /// Starts after <paramref name="context"/>: ids whose text is not returned (the end of a prompt),
    /// which the first pieces are decoded after, so that a SentencePiece word keeps its leading space.
    /// Context must end on a whole character, as the ids of encoded text do.
    /// </summary>
    public IncrementalDecoder(TextTokenizer tokenizer, IEnumerable<int>? context = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        if (context is not null)
        {
            _ids.AddRange(context);
            _read = _ids.Count;
        }
    }

    /// <summary>
    /// Adds <paramref name="id"/> and returns the text it completes. A text that ends in U+FFFD may end
    /// in an incomplete UTF-8 sequence that a later id completes: that last character is held back,
    /// and everything before it is returned (bytes that can never form a character come out as U+FFFD
    /// once a later one shows it, as decoding all the ids at once would give).
    /// </summary>
    public string Push(int id)
    {
        _ids.Add(id);
        var (before, after) = Window();
        var open = after.Length > 0 && after[^1] == Replacement;
        var stable = open ? after.Length - 1 : after.Length;
        var from = before.Length + _pending;
        var piece = stable > from ? after[from..stable] : string.Empty;
        if (open)
        {
            _pending = Math.Max(_pending, stable - before.Length);
        }
        else if (after.Length > before.Length)
        {
            _prefix = _read;
            _read = _ids.Count;
            _pending = 0;
        }

        return piece;
    }

    /// <summary>
    /// The text still held back, as it decodes now (an incomplete character as U+FFFD, as decoding
    /// all the ids at once would give): call when no more ids will come.
    /// </summary>
    public string Flush()
    {
        if (_read == _ids.Count)
        {
            return string.Empty;
        }

        var (before, after) = Window();
        var from = before.Length + _pending;
        _prefix = _read;
        _read = _ids.Count;
        _pending = 0;
        return after.Length > from ? after[from..] : string.Empty;
    }

    private (string Before, string After) Window()
    {
        var span = _ids.GetRange(_prefix, _ids.Count - _prefix);
        return (_tokenizer.Decode(span.GetRange(0, _read - _prefix)), _tokenizer.Decode(span));
    }
}
