using System.Text;

namespace InseqBridge.Visualization;

/// <summary>Makes raw tokenizer pieces readable: byte-level BPE and SentencePiece space markers become a visible
/// space sign, byte-level newlines and tabs become arrows.</summary>
public static class TokenDisplay
{
    /// <summary>The sign shown where a token carries a leading space (U+2423 OPEN BOX).</summary>
    public const char VisibleSpace = '\u2423';

    /// <summary>Returns <paramref name="token"/> with whitespace markers replaced by visible signs.</summary>
    public static string Readable(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var text = new StringBuilder(token.Length);
        foreach (char c in token)
        {
            text.Append(c switch
            {
                '\u0120' or '\u2581' or ' ' => VisibleSpace, // 'Ġ' (byte-level BPE), '▁' (SentencePiece)
                '\u010A' or '\n' => '\u21B5', // 'Ċ': newline
                '\u0109' or '\t' => '\u21E5', // 'ĉ': tab
                _ => c,
            });
        }

        return text.ToString();
    }
}
