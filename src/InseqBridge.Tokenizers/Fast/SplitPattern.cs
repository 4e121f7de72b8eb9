using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>One piece of a string cut by a pattern: [Start, End) in UTF-16 units, and whether it is a match.</summary>
internal readonly record struct PatternPiece(int Start, int End, bool IsMatch);

/// <summary>
/// A pattern of the Rust library (<c>Pattern::find_matches</c>): a literal string, a regular expression (Oniguruma
/// semantics: matched on code points, an empty match right after the previous match is skipped) or a character
/// predicate. The result covers the whole input: matches and the gaps between them.
/// </summary>
internal abstract class SplitPattern
{
    /// <summary>Cuts <paramref name="s"/> into matches and gaps.</summary>
    public abstract List<PatternPiece> FindMatches(string s);

    /// <summary>A literal string (empty: the whole input is one gap).</summary>
    public static SplitPattern Literal(string literal) => new LiteralPattern(literal);

    /// <summary>A regular expression in the Oniguruma syntax used by <c>tokenizer.json</c>.</summary>
    public static SplitPattern FromRegex(string pattern) => new RegexPattern(pattern, false);

    /// <summary>Each character that satisfies <paramref name="predicate"/> is a match.</summary>
    public static SplitPattern Chars(Func<int, bool> predicate) => new CharPattern(predicate);

    // Non-overlapping occurrences, left to right (what the escaped regex of the Rust library finds).
    private sealed class LiteralPattern(string literal) : SplitPattern
    {
        public override List<PatternPiece> FindMatches(string s)
        {
            var pieces = new List<PatternPiece>();
            if (literal.Length == 0 || s.Length == 0)
            {
                pieces.Add(new PatternPiece(0, s.Length, false));
                return pieces;
            }
            int prev = 0;
            int index;
            while (prev <= s.Length - literal.Length && (index = s.IndexOf(literal, prev, StringComparison.Ordinal)) >= 0)
            {
                if (index > prev)
                {
                    pieces.Add(new PatternPiece(prev, index, false));
                }
                pieces.Add(new PatternPiece(index, index + literal.Length, true));
                prev = index + literal.Length;
            }
            if (prev < s.Length)
            {
                pieces.Add(new PatternPiece(prev, s.Length, false));
            }
            return pieces;
        }
    }

    private sealed class CharPattern(Func<int, bool> predicate) : SplitPattern
    {
        public override List<PatternPiece> FindMatches(string s)
        {
            var pieces = new List<PatternPiece>();
            if (s.Length == 0)
            {
                pieces.Add(new PatternPiece(0, 0, false));
                return pieces;
            }
            int lastOffset = 0;
            for (int i = 0; i < s.Length;)
            {
                int len = UnicodeText.CharLength(s, i);
                int c = len == 2 ? char.ConvertToUtf32(s[i], s[i + 1]) : s[i];
                if (predicate(c))
                {
                    if (lastOffset < i)
                    {
                        pieces.Add(new PatternPiece(lastOffset, i, false));
                    }
                    pieces.Add(new PatternPiece(i, i + len, true));
                    lastOffset = i + len;
                }
                i += len;
            }
            if (s.Length > lastOffset)
            {
                pieces.Add(new PatternPiece(lastOffset, s.Length, false));
            }
            return pieces;
        }
    }

    private sealed class RegexPattern : SplitPattern
    {
        private readonly Regex? _regex;
        private readonly bool _empty;

        public RegexPattern(string? pattern, bool empty)
        {
            _empty = empty;
            if (pattern is not null)
            {
                _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
            }
        }

        public override List<PatternPiece> FindMatches(string s)
        {
            var pieces = new List<PatternPiece>();
            if (_empty)
            {
                pieces.Add(new PatternPiece(0, s.Length, false));
                return pieces;
            }
            if (s.Length == 0)
            {
                pieces.Add(new PatternPiece(0, 0, false));
                return pieces;
            }
            // .NET matches UTF-16 units; Oniguruma matches code points. Strings with astral characters are matched
            // on a stand-in where each astral character is one BMP character of the same general category.
            var (subject, map) = CodePointView(s);
            int prev = 0;
            int lastEnd = 0;
            int lastMatchEnd = -1;
            while (lastEnd <= subject.Length)
            {
                var m = _regex!.Match(subject, lastEnd);
                if (!m.Success)
                {
                    break;
                }
                int start = m.Index;
                int end = m.Index + m.Length;
                if (start == end && lastMatchEnd == end)
                {
                    lastEnd++;
                    continue;
                }
                lastEnd = end;
                lastMatchEnd = end;
                int os = map is null ? start : map[start];
                int oe = map is null ? end : map[end];
                if (prev != os)
                {
                    pieces.Add(new PatternPiece(prev, os, false));
                }
                pieces.Add(new PatternPiece(os, oe, true));
                prev = oe;
            }
            if (prev != s.Length)
            {
                pieces.Add(new PatternPiece(prev, s.Length, false));
            }
            return pieces;
        }

        private static (string Subject, int[]? Map) CodePointView(string s)
        {
            bool astral = false;
            foreach (char c in s)
            {
                if (char.IsSurrogate(c))
                {
                    astral = true;
                    break;
                }
            }
            if (!astral)
            {
                return (s, null);
            }
            var builder = new StringBuilder(s.Length);
            var map = new List<int>(s.Length + 1);
            for (int i = 0; i < s.Length;)
            {
                int len = UnicodeText.CharLength(s, i);
                map.Add(i);
                if (len == 2)
                {
                    builder.Append(StandIn(char.ConvertToUtf32(s[i], s[i + 1])));
                }
                else
                {
                    builder.Append(s[i]);
                }
                i += len;
            }
            map.Add(s.Length);
            return (builder.ToString(), map.ToArray());
        }

        // A BMP character of the same general category, chosen outside ASCII so that literal parts of a pattern
        // (such as the contractions 's, 't) never match a stand-in.
        private static char StandIn(int c) => UnicodeText.Category(c) switch
        {
            UnicodeCategory.UppercaseLetter => '\u00C0',
            UnicodeCategory.LowercaseLetter => '\u00E0',
            UnicodeCategory.TitlecaseLetter => '\u01C5',
            UnicodeCategory.ModifierLetter => '\u02B0',
            UnicodeCategory.OtherLetter => '\u05D0',
            UnicodeCategory.NonSpacingMark => '\u0300',
            UnicodeCategory.SpacingCombiningMark => '\u0903',
            UnicodeCategory.EnclosingMark => '\u20DD',
            UnicodeCategory.DecimalDigitNumber => '\u0660',
            UnicodeCategory.LetterNumber => '\u2160',
            UnicodeCategory.OtherNumber => '\u00B2',
            UnicodeCategory.MathSymbol => '\u00AC',
            UnicodeCategory.CurrencySymbol => '\u00A2',
            UnicodeCategory.ModifierSymbol => '\u00B4',
            UnicodeCategory.OtherSymbol => '\u00A9',
            UnicodeCategory.ConnectorPunctuation => '\u203F',
            UnicodeCategory.DashPunctuation => '\u2010',
            UnicodeCategory.OpenPunctuation => '\u2045',
            UnicodeCategory.ClosePunctuation => '\u2046',
            UnicodeCategory.InitialQuotePunctuation => '\u2018',
            UnicodeCategory.FinalQuotePunctuation => '\u2019',
            UnicodeCategory.OtherPunctuation => '\u00B6',
            UnicodeCategory.Format => '\u00AD',
            UnicodeCategory.PrivateUse => '\uE000',
            _ => '\u0378',
        };
    }
}
