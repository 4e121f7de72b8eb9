using System.Text;
using InseqBridge.Tokenizers.ByteLevel;
using InseqBridge.Tokenizers.SentencePiece;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>A <c>normalizer</c> of <c>tokenizer.json</c>.</summary>
internal abstract class Normalizer
{
    /// <summary>Normalizes <paramref name="s"/>; <paramref name="removedLeading"/> is set when characters at the
    /// start of the input were removed (the result then no longer starts at the input's first character).</summary>
    public abstract string Normalize(string s, ref bool removedLeading);

    /// <summary>Normalizes without tracking removed leading characters.</summary>
    public string Normalize(string s)
    {
        bool ignored = false;
        return Normalize(s, ref ignored);
    }
}

internal sealed class SequenceNormalizer(IReadOnlyList<Normalizer> parts) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading)
    {
        foreach (var part in parts)
        {
            s = part.Normalize(s, ref removedLeading);
        }
        return s;
    }
}

internal sealed class UnicodeNormalizer(NormalizationForm form) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading) => UnicodeNormalization.Normalize(s, form);
}

internal sealed class LowercaseNormalizer : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading) => Lower(s);

    // Rust's char::to_lowercase, character by character (no final-sigma rule); U+0130 lowercases to two characters.
    public static string Lower(string s)
    {
        var builder = new StringBuilder(s.Length);
        foreach (var rune in s.EnumerateRunes())
        {
            if (rune.Value == 0x130)
            {
                builder.Append("i\u0307");
            }
            else
            {
                UnicodeText.Append(builder, Rune.ToLowerInvariant(rune).Value);
            }
        }
        return builder.ToString();
    }
}

internal sealed class StripNormalizer(bool left, bool right) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading)
    {
        int start = 0;
        int end = s.Length;
        if (left)
        {
            while (start < end && UnicodeText.IsWhitespace(s[start]))
            {
                start++;
            }
        }
        if (right)
        {
            while (end > start && UnicodeText.IsWhitespace(s[end - 1]))
            {
                end--;
            }
        }
        if (start > 0)
        {
            removedLeading = true;
        }
        return s[start..end];
    }
}

internal sealed class StripAccentsNormalizer : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading)
    {
        var builder = new StringBuilder(s.Length);
        bool first = true;
        foreach (var rune in s.EnumerateRunes())
        {
            if (UnicodeText.IsMark(rune.Value))
            {
                if (first)
                {
                    removedLeading = true;
                }
                continue;
            }
            first = false;
            UnicodeText.Append(builder, rune.Value);
        }
        return builder.ToString();
    }
}

internal sealed class ReplaceNormalizer(SplitPattern pattern, string content) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading) => Replace(pattern, content, s);

    public static string Replace(SplitPattern pattern, string content, string s)
    {
        var builder = new StringBuilder(s.Length);
        foreach (var piece in pattern.FindMatches(s))
        {
            if (piece.IsMatch)
            {
                builder.Append(content);
            }
            else
            {
                builder.Append(s, piece.Start, piece.End - piece.Start);
            }
        }
        return builder.ToString();
    }
}

internal sealed class PrependNormalizer(string prefix) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading) => s.Length == 0 ? s : prefix + s;
}

internal sealed class ByteLevelNormalizer : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading) => ToByteLevel(s);

    public static string ToByteLevel(string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = ByteLevelAlphabet.Encode(bytes[i]);
        }
        return new string(chars);
    }
}

internal sealed class BertNormalizer(bool cleanText, bool handleChineseChars, bool stripAccents, bool lowercase) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading)
    {
        var builder = new StringBuilder(s.Length);
        if (cleanText)
        {
            bool first = true;
            foreach (var rune in s.EnumerateRunes())
            {
                int c = rune.Value;
                if (c == 0 || c == 0xFFFD || UnicodeText.IsControl(c))
                {
                    if (first)
                    {
                        removedLeading = true;
                    }
                    continue;
                }
                first = false;
                if (UnicodeText.IsWhitespace(c))
                {
                    builder.Append(' ');
                }
                else
                {
                    UnicodeText.Append(builder, c);
                }
            }
            s = builder.ToString();
            builder.Clear();
        }
        if (handleChineseChars)
        {
            foreach (var rune in s.EnumerateRunes())
            {
                if (IsChinese(rune.Value))
                {
                    builder.Append(' ');
                    UnicodeText.Append(builder, rune.Value);
                    builder.Append(' ');
                }
                else
                {
                    UnicodeText.Append(builder, rune.Value);
                }
            }
            s = builder.ToString();
        }
        if (stripAccents)
        {
            // BERT strips only non-spacing marks (Mn), unlike the StripAccents normalizer (every mark).
            var stripped = new StringBuilder(s.Length);
            foreach (var rune in UnicodeNormalization.Normalize(s, NormalizationForm.FormD).EnumerateRunes())
            {
                if (UnicodeText.Category(rune.Value) != System.Globalization.UnicodeCategory.NonSpacingMark)
                {
                    UnicodeText.Append(stripped, rune.Value);
                }
            }
            s = stripped.ToString();
        }
        if (lowercase)
        {
            s = LowercaseNormalizer.Lower(s);
        }
        return s;
    }

    private static bool IsChinese(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}

internal sealed class NmtNormalizer : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading)
    {
        var builder = new StringBuilder(s.Length);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c is >= 0x01 and <= 0x08 or 0x0B or >= 0x0E and <= 0x1F or 0x7F or 0x8F or 0x9F)
            {
                continue;
            }
            if (c is 0x09 or 0x0A or 0x0C or 0x0D or 0x1680 or >= 0x200B and <= 0x200F or 0x2028 or 0x2029 or 0x2581
                or 0xFEFF or 0xFFFD)
            {
                builder.Append(' ');
            }
            else
            {
                UnicodeText.Append(builder, c);
            }
        }
        return builder.ToString();
    }
}

/// <summary>SentencePiece's precompiled character map, as the Rust library's <c>Precompiled</c> normalizer uses it.</summary>
internal sealed class PrecompiledNormalizer(PrecompiledCharsMap map) : Normalizer
{
    public override string Normalize(string s, ref bool removedLeading)
    {
        // The Rust library tries each grapheme (under 6 bytes) whole first, then its characters one by one; a chunk is
        // replaced by the first rule that matches a prefix of it (spm_precompiled's transform).
        var output = new StringBuilder(s.Length);
        var graphemes = System.Globalization.StringInfo.GetTextElementEnumerator(s);
        while (graphemes.MoveNext())
        {
            string grapheme = (string)graphemes.Current;
            byte[] bytes = Encoding.UTF8.GetBytes(grapheme);
            if (bytes.Length < 6 && map.ShortestMatch(bytes, out var whole) > 0)
            {
                output.Append(Encoding.UTF8.GetString(whole));
                continue;
            }
            foreach (var rune in grapheme.EnumerateRunes())
            {
                byte[] charBytes = Encoding.UTF8.GetBytes(rune.ToString());
                if (map.ShortestMatch(charBytes, out var part) > 0)
                {
                    output.Append(Encoding.UTF8.GetString(part));
                }
                else
                {
                    output.Append(rune.ToString());
                }
            }
        }
        return output.ToString();
    }
}
