using System.Globalization;
using System.Text;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>Character classes as the Rust library defines them (on code points, not UTF-16 units).</summary>
internal static class UnicodeText
{
    /// <summary>Rust's <c>char::is_whitespace</c> (the Unicode White_Space property).</summary>
    public static bool IsWhitespace(int c) =>
        c is >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029
            or 0x202F or 0x205F or 0x3000;

    /// <summary>Unicode general category of a code point.</summary>
    public static UnicodeCategory Category(int c) => CharUnicodeInfo.GetUnicodeCategory(c);

    /// <summary>The regex crate's <c>\w</c>: alphabetic, marks, decimal digits, connector punctuation, joiners.</summary>
    public static bool IsWordChar(int c)
    {
        if (c == 0x200C || c == 0x200D)
        {
            return true;
        }
        return Category(c) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark
                or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
                or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
    }

    /// <summary>Rust's <c>char::is_numeric</c> (Nd, Nl, No).</summary>
    public static bool IsNumeric(int c) => Category(c) is UnicodeCategory.DecimalDigitNumber
        or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    /// <summary>Rust's <c>char::is_alphanumeric</c> (approximated by letters and numbers).</summary>
    public static bool IsAlphanumeric(int c) => Category(c) is UnicodeCategory.UppercaseLetter
        or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or UnicodeCategory.ModifierLetter
        or UnicodeCategory.OtherLetter || IsNumeric(c);

    /// <summary>The Rust library's punctuation test: ASCII punctuation or a Unicode punctuation category.</summary>
    public static bool IsPunctuation(int c)
    {
        if (c < 0x80)
        {
            return c is >= 0x21 and <= 0x2F or >= 0x3A and <= 0x40 or >= 0x5B and <= 0x60 or >= 0x7B and <= 0x7E;
        }
        return Category(c) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>A mark (Mn, Mc, Me): what <c>StripAccents</c> removes.</summary>
    public static bool IsMark(int c) => Category(c) is UnicodeCategory.NonSpacingMark
        or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;

    /// <summary>A control character as BERT's normalizer sees it (Cc/Cf/Cn/Co except tab and newlines).</summary>
    public static bool IsControl(int c)
    {
        if (c is '\t' or '\n' or '\r')
        {
            return false;
        }
        return Category(c) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.PrivateUse;
    }

    /// <summary>The code points of a string (lone surrogates kept as they are).</summary>
    public static List<int> CodePoints(string s)
    {
        var list = new List<int>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(char.ConvertToUtf32(s[i], s[i + 1]));
                i++;
            }
            else
            {
                list.Add(s[i]);
            }
        }
        return list;
    }

    /// <summary>Length in UTF-16 units of the code point starting at <paramref name="index"/>.</summary>
    public static int CharLength(string s, int index) =>
        char.IsHighSurrogate(s[index]) && index + 1 < s.Length && char.IsLowSurrogate(s[index + 1]) ? 2 : 1;

    /// <summary>Appends a code point.</summary>
    public static void Append(StringBuilder builder, int c)
    {
        if (c >= 0x10000)
        {
            builder.Append(char.ConvertFromUtf32(c));
        }
        else
        {
            builder.Append((char)c);
        }
    }
}
