using Wudao.Text;
using Xunit;

namespace Wudao.Runtime.Tests.Text;

/// <summary>
/// The SentencePiece loader's error path. No real tokenizer.model is available without a model hub,
/// and writing one needs the SentencePiece trainer, so encoding through it is not tested here.
/// </summary>
public sealed class SentencePieceTests
{
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
