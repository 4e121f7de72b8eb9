using System.Globalization;
using System.Text;

namespace InseqBridge.Cli;

/// <summary>Makes text from files and users safe to print: control characters (which can move the cursor, clear
/// the screen or retitle a terminal) and bidirectional overrides (which reorder what is shown) become visible
/// <c>\u001b</c>-style escapes. Tabs are kept; line breaks are escaped so one message stays one line.</summary>
public static class TerminalText
{
    /// <summary>Returns <paramref name="text"/> with unsafe characters escaped.</summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(IsUnsafe))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            if (IsUnsafe(c))
            {
                sb.Append(c switch
                {
                    '\n' => "\\n",
                    '\r' => "\\r",
                    _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                });
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>True for C0/C1 control characters other than tab, DEL, and Unicode bidirectional controls.</summary>
    public static bool IsUnsafe(char c) =>
        (c < 0x20 && c != '\t') || (c >= 0x7F && c <= 0x9F) || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069' or '\u200E' or '\u200F' or '\u061C';
}
