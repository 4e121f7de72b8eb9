using System.Text;

namespace InseqBridge.Visualization;

/// <summary>
/// Makes raw tokenizer pieces readable. Byte-level BPE pieces (GPT-2, BART, Llama 3 style: <c>Ġworld</c>,
/// <c>Ã©</c>) are decoded to their text; SentencePiece's <c>▁</c> is a space; then whitespace is made visible:
/// space <c>␣</c>, newline <c>⏎</c>, tab <c>⇥</c>, carriage return <c>␍</c>.
/// </summary>
public static class TokenDisplay
{
    /// <summary>The sign shown for a space (U+2423 OPEN BOX).</summary>
    public const char VisibleSpace = '\u2423';

    /// <summary>The sign shown for a line break (U+23CE RETURN SYMBOL).</summary>
    public const char VisibleNewline = '\u23CE';

    /// <summary>The sign shown for a tab (U+21E5).</summary>
    public const char VisibleTab = '\u21E5';

    private static readonly Dictionary<char, byte> ByteLevelChars = BuildByteLevelChars();
    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>Returns <paramref name="token"/> decoded and with whitespace made visible.</summary>
    public static string Readable(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        string text = DecodeByteLevel(token) ?? token.Replace('\u2581', ' ');
        var visible = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            switch (c)
            {
                case ' ': visible.Append(VisibleSpace); break;
                case '\n': visible.Append(VisibleNewline); break;
                case '\t': visible.Append(VisibleTab); break;
                case '\r': visible.Append('\u240D'); break;

                // Other control characters would reach a terminal raw (cursor moves, colour changes, retitling):
                // C0 controls get their Unicode control picture, DEL U+2421, C1 and bidirectional controls U+XXXX.
                case < ' ': visible.Append((char)(0x2400 + c)); break;
                case '\u007F': visible.Append('\u2421'); break;
                case (>= '\u0080' and <= '\u009F') or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F' or '\u061C':
                    visible.Append("U+").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default: visible.Append(c); break;
            }
        }

        return visible.ToString();
    }

    /// <summary>Returns <paramref name="text"/> with control and bidirectional characters made visible as in
    /// <see cref="Readable"/>, and nothing else changed (for names such as step score ids).</summary>
    public static string Printable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Any(c => c < ' ' || c is (>= '\u007F' and <= '\u009F') or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F' or '\u061C')
            ? string.Concat(text.Select(c => c == ' ' ? " " : Readable(c.ToString())))
            : text;
    }

    /// <summary>Cuts <paramref name="text"/> to at most <paramref name="width"/> characters, marking a cut with '…'.</summary>
    public static string Fit(string text, int width)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= width ? text : string.Concat(text.AsSpan(0, Math.Max(0, width - 1)), "\u2026");
    }

    /// <summary>The text of a byte-level BPE piece, or null when the piece is not one (a character outside GPT-2's
    /// byte alphabet) or its bytes are not complete UTF-8 (a piece holding part of a character stays raw).</summary>
    private static string? DecodeByteLevel(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!ByteLevelChars.TryGetValue(token[i], out bytes[i]))
            {
                return null;
            }
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    // GPT-2's bytes_to_unicode table, reversed: printable Latin-1 bytes stand for themselves, the other bytes for
    // U+0100 onwards in byte order.
    private static Dictionary<char, byte> BuildByteLevelChars()
    {
        var table = new Dictionary<char, byte>(256);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[printable ? (char)b : (char)next++] = (byte)b;
        }

        return table;
    }
}
