using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Wudao.Models;
using Wudao.Runtime.Tests.Models;
using Wudao.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Text;

// As many ids as the tokenizer trained in TokenizerFiles: 256 bytes, 43 merges, <|endoftext|>.
[MoeTransformer(Vocab = 300, Dim = 64, Layers = 2, MaxSequence = 96)]
[Attention(Heads = 2, KvHeads = 1)]
[MoeFeedForward(Experts = 4, TopK = 2, Hidden = 48, Every = 2)]
[Router(RouterKind.TopK)]
public partial class ByteLevelLm
{
}

/// <summary>lm.Generate(tokenizer, text): the same tokens as generating ids, their text streamed whole.</summary>
public sealed class TextGenerationTests : IClassFixture<TokenizerFiles>, IDisposable
{
    private const string Prompt = "The fox 狐狸";

    private readonly TokenizerFiles _files;
    private readonly Session _session = Session.Create(DeviceKind.Native, threads: 1);
    private readonly ByteLevelLm _lm;

    public TextGenerationTests(TokenizerFiles files)
    {
        _files = files;
        _lm = ByteLevelLm.Create(_session, seed: 3);
    }

    public void Dispose()
    {
        _lm.Dispose();
        _session.Dispose();
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public void Text_is_the_decoding_of_the_generated_ids_and_the_stream_concatenates_to_it(float temperature)
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(_files.StringMerges);
        var sampling = new Sampling(Temperature: temperature, Seed: 5);
        var ids = _lm.Generate(tokenizer.Encode(Prompt), maxNewTokens: 40, sampling);
        var pieces = new List<string>();

        var text = _lm.Generate(tokenizer, Prompt, maxNewTokens: 40, sampling, pieces.Add);

        Assert.Equal(tokenizer.Decode(ids), text);
        Assert.Equal(text, string.Concat(pieces));
        Assert.All(pieces, p => Assert.NotEqual(string.Empty, p));
        Assert.True(pieces.Count > 1);
    }

    [Fact]
    public void Generation_stops_at_the_tokenizers_eos_which_has_no_text()
    {
        // Name as EOS a token the model emits a few steps in, so the stop is observable.
        var plain = TextTokenizer.LoadHuggingFace(_files.StringMerges);
        var ids = _lm.Generate(plain.Encode(Prompt), maxNewTokens: 40, Sampling.Greedy);
        var stop = ids.Skip(2).First(id => id < 256 + 43);
        var token = _files.Bpe.Vocab.Single(v => v.Value == stop).Key;
        var tokenizer = TextTokenizer.LoadHuggingFace(_files.StringMerges, eosToken: token);

        var text = _lm.Generate(tokenizer, Prompt, maxNewTokens: 40, Sampling.Greedy);

        Assert.Equal(stop, tokenizer.EosId);
        Assert.Equal(tokenizer.Decode(ids.TakeWhile(id => id != stop)), text);
    }

    [Fact]
    public void A_tokenizer_larger_than_the_models_vocabulary_is_refused()
    {
        using var small = TinyLm.Create(_session, seed: 1);
        var tokenizer = TextTokenizer.LoadHuggingFace(_files.StringMerges);

        var e = Assert.Throws<ArgumentException>(() => small.Generate(tokenizer, Prompt, 4, Sampling.Greedy));
        Assert.Contains("300", e.Message, StringComparison.Ordinal);
        Assert.Contains("97", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cancelling_from_the_stream_stops_between_tokens()
    {
        var tokenizer = TextTokenizer.LoadHuggingFace(_files.StringMerges);
        using var cancel = new CancellationTokenSource();
        var pieces = 0;

        Assert.ThrowsAny<OperationCanceledException>(() => _lm.Generate(tokenizer, Prompt, 40, Sampling.Greedy, _ =>
        {
            pieces++;
            cancel.Cancel();
        }, cancel.Token));
        Assert.Equal(1, pieces);
    }
}
