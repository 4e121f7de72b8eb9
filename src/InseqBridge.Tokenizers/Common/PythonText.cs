namespace InseqBridge.Tokenizers.Common;

/// <summary>Python <c>str</c> helpers whose whitespace definition differs from .NET's.</summary>
internal static class PythonText
{
    /// <summary>
    /// Python's <c>str.isspace()</c> for one UTF-16 unit: .NET whitespace plus the information separators
    /// U+001C..U+001F, which Python counts as whitespace and .NET does not.
    /// </summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || (c >= '\u001C' && c <= '\u001F');

    /// <summary>Python's <c>str.lstrip()</c>.</summary>
    public static string LStrip(string s)
    {
        int start = 0;
        while (start < s.Length && IsSpace(s[start]))
        {
            start++;
        }
        return start == 0 ? s : s[start..];
    }

    /// <summary>Python's <c>str.rstrip()</c>.</summary>
    public static string RStrip(string s)
    {
        int end = s.Length;
        while (end > 0 && IsSpace(s[end - 1]))
        {
            end--;
        }
        return end == s.Length ? s : s[..end];
    }

    /// <summary>Python's <c>str.strip()</c>.</summary>
    public static string Strip(string s) => LStrip(RStrip(s));
}
