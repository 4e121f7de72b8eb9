using System.Text;

namespace InseqBridge.Tokenizers.Common;

/// <summary>
/// Hugging Face's <c>clean_up_tokenization</c>: removes the space that word-level detokenization leaves before
/// punctuation and English contractions. Applied by <c>decode</c> when <c>clean_up_tokenization_spaces</c> is true.
/// </summary>
internal static class TokenizationCleanup
{
    // Order matters: the replacements run one after the other, exactly like the chained str.replace in Python.
    private static readonly (string From, string To)[] Replacements =
    [
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ];

    /// <summary>Applies the replacements in Hugging Face's order.</summary>
    public static string Apply(string text)
    {
        if (text.IndexOf(' ', StringComparison.Ordinal) < 0)
        {
            return text;
        }
        var builder = new StringBuilder(text);
        foreach (var (from, to) in Replacements)
        {
            builder.Replace(from, to);
        }
        return builder.ToString();
    }
}
