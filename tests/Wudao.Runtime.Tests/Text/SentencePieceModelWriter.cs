using System.Collections.Generic;
using System.IO;
using System.Linq;
using Google.Protobuf;

namespace Wudao.Runtime.Tests.Text;

/// <summary>
/// Writes a tiny Llama-style SentencePiece BPE tokenizer.model (sentencepiece_model.proto's
/// ModelProto, field by field): &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, the 256 byte-fallback pieces, "▁" and the
/// letters, then merged pieces whose scores order the merges (higher merges first).
/// </summary>
internal static class SentencePieceModelWriter
{
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;

    public static readonly string[] Merged = ["▁t", "he", "▁the", "▁f", "ox", "▁fox", "▁d", "og", "▁dog", "an", "▁an", "▁and"];

    /// <summary>The pieces in id order.</summary>
    public static List<string> Pieces()
    {
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        pieces.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        pieces.Add("▁");
        pieces.AddRange(Enumerable.Range('a', 26).Select(c => ((char)c).ToString()));
        pieces.AddRange(Merged);
        return pieces;
    }

    public static string Write(string directory)
    {
        var pieces = Pieces();
        using var file = new MemoryStream();
        var model = new CodedOutputStream(file);
        for (var id = 0; id < pieces.Count; id++)
        {
            var piece = pieces[id];
            var type = id switch { 0 => Unknown, 1 or 2 => Control, < 259 => Byte, _ => Normal };
            var mergeRank = System.Array.IndexOf(Merged, piece);
            var score = mergeRank >= 0 ? -1f - mergeRank : type == Normal ? -100f - id : 0f;
            model.WriteTag(1, WireFormat.WireType.LengthDelimited);
            model.WriteBytes(Message(o =>
            {
                o.WriteTag(1, WireFormat.WireType.LengthDelimited);
                o.WriteString(piece);
                o.WriteTag(2, WireFormat.WireType.Fixed32);
                o.WriteFloat(score);
                o.WriteTag(3, WireFormat.WireType.Varint);
                o.WriteEnum(type);
            }));
        }

        model.WriteTag(2, WireFormat.WireType.LengthDelimited); // TrainerSpec
        model.WriteBytes(Message(o =>
        {
            Varint(o, 3, 2);             // model_type = BPE
            Varint(o, 4, pieces.Count);  // vocab_size
            Varint(o, 35, 1);            // byte_fallback
            Varint(o, 40, 0);            // unk_id
            Varint(o, 41, 1);            // bos_id
            Varint(o, 42, 2);            // eos_id
            Varint(o, 43, -1);           // pad_id: none
        }));
        model.WriteTag(3, WireFormat.WireType.LengthDelimited); // NormalizerSpec
        model.WriteBytes(Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited);
            o.WriteString("identity");
            Varint(o, 3, 1);             // add_dummy_prefix
            Varint(o, 4, 0);             // remove_extra_whitespaces
            Varint(o, 5, 1);             // escape_whitespaces
        }));
        model.Flush();
        var path = Path.Combine(directory, "tokenizer.model");
        File.WriteAllBytes(path, file.ToArray());
        return path;
    }

    private static void Varint(CodedOutputStream o, int field, int value)
    {
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteInt32(value);
    }

    private static ByteString Message(System.Action<CodedOutputStream> write)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        write(output);
        output.Flush();
        return ByteString.CopyFrom(stream.ToArray());
    }
}
