using System.Globalization;
using System.Text;

namespace InseqBridge.Tokenizers.ByteLevel;

/// <summary>
/// Splits text into the words GPT-2's BPE works on, exactly like Python's
/// <c>regex.findall(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", text)</c>.
/// Written as a scanner over code points rather than a .NET <see cref="System.Text.RegularExpressions.Regex"/>
/// because .NET regexes see UTF-16 units: astral letters/digits (e.g. CJK extension B) would fall into the
/// "other" class there, while Python classifies whole code points.
/// </summary>
internal static class Gpt2PreTokenizer
{
    private enum CharClass
    {
        Letter,
        Number,
        Space,
        Other,
    }

    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    /// <summary>Appends the words of <paramref name="text"/> to <paramref name="words"/>.</summary>
    public static void Split(string text, List<string> words)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = MatchAt(text, i);
            words.Add(text[i..end]);
            i = end;
        }
    }

    // Returns the end of the regex match that starts at `start` (the alternatives are tried in the regex's order).
    private static int MatchAt(string text, int start)
    {
        if (text[start] == '\'')
        {
            foreach (var contraction in Contractions)
            {
                if (string.CompareOrdinal(text, start, contraction, 0, contraction.Length) == 0)
                {
                    return start + contraction.Length;
                }
            }
        }

        // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional ASCII space glued to a run of one class.
        int classStart = text[start] == ' ' && start + 1 < text.Length ? start + 1 : start;
        var first = Classify(text, classStart);
        if (first != CharClass.Space)
        {
            return RunEnd(text, classStart, first);
        }

        // "\s+(?!\S)" then "\s+": a whitespace run leaves its last character to the next word when a non-space follows.
        int spaceEnd = RunEnd(text, start, CharClass.Space);
        if (spaceEnd == text.Length)
        {
            return spaceEnd;
        }
        int lastStart = PreviousCodePointStart(text, spaceEnd);
        return lastStart > start ? lastStart : spaceEnd;
    }

    private static int RunEnd(string text, int start, CharClass cls)
    {
        int i = start;
        while (i < text.Length && Classify(text, i) == cls)
        {
            i += CodePointLength(text, i);
        }
        return i;
    }

    private static CharClass Classify(string text, int index)
    {
        Rune.DecodeFromUtf16(text.AsSpan(index), out var rune, out _);
        if (Rune.IsWhiteSpace(rune))
        {
            return CharClass.Space;
        }
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return CharClass.Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return CharClass.Number;
            default:
                return CharClass.Other;
        }
    }

    private static int CodePointLength(string text, int index) =>
        char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]) ? 2 : 1;

    private static int PreviousCodePointStart(string text, int index) =>
        index >= 2 && char.IsLowSurrogate(text[index - 1]) && char.IsHighSurrogate(text[index - 2]) ? index - 2 : index - 1;
}
