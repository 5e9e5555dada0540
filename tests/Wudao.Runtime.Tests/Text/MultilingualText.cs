namespace Wudao.Runtime.Tests.Text;

/// <summary>A short text in several scripts: one-, two-, three- and four-byte UTF-8 characters, emoji sequences, digits, '#' and apostrophes.</summary>
internal static class MultilingualText
{
    public const string Corpus =
        "The quick brown fox jumps over the lazy dog. It's the fox's 2nd jump; we'll see 12345 more!\n" +
        "Der schnelle braune Fuchs springt über den faulen Hund. Größe, Übermaß, Straße.\n" +
        "Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.\n" +
        "Быстрая коричневая лиса прыгает через ленивую собаку.\n" +
        "敏捷的棕色狐狸跳过了懒狗。狐狸很快，狗很懒。\n" +
        "素早い茶色の狐がのろまな犬を飛び越える。\n" +
        "빠른 갈색 여우가 게으른 개를 뛰어넘는다.\n" +
        "الثعلب البني السريع يقفز فوق الكلب الكسول.\n" +
        "Emoji: 🦊🐶 👩‍💻 🇨🇳 🙂 — #tags #fox   and    spaces\ttabs.\n" +
        "the fox the fox the dog the dog, over and over and over.";
}
