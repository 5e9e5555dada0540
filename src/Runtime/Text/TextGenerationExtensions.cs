using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using Wudao.Models;

namespace Wudao.Text;

/// <summary>Text in, text out: <see cref="TextGeneration.Generate"/> with a tokenizer at both ends.</summary>
public static class TextGenerationExtensions
{
    private const int ContextIds = 4;

    /// <summary>
    /// Encodes <paramref name="prompt"/>, generates up to <paramref name="maxNewTokens"/> tokens after it
    /// (stopping at the tokenizer's EOS, where it has one, as well as at <paramref name="sampling"/>'s
    /// stop tokens) and returns their text, less a final EOS. <paramref name="onText"/> hears each piece
    /// of text as soon as its tokens are generated, on the generating thread; the pieces concatenate to
    /// the returned text, and a character split across tokens arrives whole. Throws when the tokenizer's
    /// ids do not fit the model's vocabulary; <paramref name="cancellationToken"/> stops it between tokens.
    /// </summary>
    public static string Generate(this ICausalLm model, TextTokenizer tokenizer, string prompt, int maxNewTokens, Sampling sampling, Action<string>? onText = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(sampling);
        if (tokenizer.VocabularySize > model.Vocab)
        {
            throw new ArgumentException($"the tokenizer's vocabulary ({tokenizer.VocabularySize} ids) does not fit the model's Vocab ({model.Vocab})", nameof(tokenizer));
        }

        var eos = tokenizer.EosId;
        if (eos is { } id && !(sampling.StopTokens?.Contains(id) ?? false))
        {
            sampling = sampling with { StopTokens = [.. sampling.StopTokens ?? [], id] };
        }

        var ids = tokenizer.Encode(prompt);

        // The prompt's last ids as context: SentencePiece drops a word's leading space at the start of a text.
        var decoder = new IncrementalDecoder(tokenizer, ids[Math.Max(0, ids.Length - ContextIds)..]);
        var text = new StringBuilder();
        var sink = new PieceSink(decoder, eos, text, onText);
        TextGeneration.Generate(model, ids, maxNewTokens, sampling, sink, cancellationToken);
        sink.Emit(decoder.Flush());
        return text.ToString();
    }

    /// <summary>Decodes each token as TextGeneration reports it; EOS ends the run and has no text here.</summary>
    private sealed class PieceSink(IncrementalDecoder decoder, int? eos, StringBuilder text, Action<string>? onText) : IProgress<GenerationProgress>
    {
        public void Report(GenerationProgress value)
        {
            if (value.LastToken != eos)
            {
                Emit(decoder.Push(value.LastToken));
            }
        }

        public void Emit(string piece)
        {
            if (piece.Length > 0)
            {
                text.Append(piece);
                onText?.Invoke(piece);
            }
        }
    }
}
