using System.Text;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>A piece of text on its way through the pipeline; <see cref="AtStart"/>: it begins at offset 0 of the input.</summary>
internal readonly record struct TextSplit(string Text, bool AtStart);

/// <summary>How a split keeps its delimiters (the Rust library's <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>A <c>pre_tokenizer</c> of <c>tokenizer.json</c>: cuts each split into smaller ones.</summary>
internal abstract class PreTokenizer
{
    /// <summary>Cuts every split; empty results are dropped, as the Rust library does.</summary>
    public List<TextSplit> PreTokenize(List<TextSplit> splits)
    {
        var result = new List<TextSplit>(splits.Count);
        foreach (var split in splits)
        {
            foreach (var piece in Split(split))
            {
                if (piece.Text.Length > 0)
                {
                    result.Add(piece);
                }
            }
        }
        return PostProcess(result);
    }

    /// <summary>Cuts one split.</summary>
    protected abstract IEnumerable<TextSplit> Split(TextSplit split);

    /// <summary>A step over every split after cutting (ByteLevel maps bytes to its alphabet here).</summary>
    protected virtual List<TextSplit> PostProcess(List<TextSplit> splits) => splits;

    /// <summary><c>NormalizedString::split</c>: cuts <paramref name="split"/> by <paramref name="pattern"/>.</summary>
    public static List<TextSplit> SplitBy(TextSplit split, SplitPattern pattern, SplitBehavior behavior, bool invert = false)
    {
        string s = split.Text;
        var matches = pattern.FindMatches(s);
        if (invert)
        {
            for (int i = 0; i < matches.Count; i++)
            {
                matches[i] = matches[i] with { IsMatch = !matches[i].IsMatch };
            }
        }
        var ranges = new List<(int Start, int End, bool Remove)>(matches.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                foreach (var m in matches)
                {
                    ranges.Add((m.Start, m.End, false));
                }
                break;
            case SplitBehavior.Removed:
                foreach (var m in matches)
                {
                    ranges.Add((m.Start, m.End, m.IsMatch));
                }
                break;
            case SplitBehavior.Contiguous:
                {
                    bool previous = false;
                    foreach (var m in matches)
                    {
                        if (m.IsMatch == previous && ranges.Count > 0)
                        {
                            ranges[^1] = (ranges[^1].Start, m.End, false);
                        }
                        else
                        {
                            ranges.Add((m.Start, m.End, false));
                        }
                        previous = m.IsMatch;
                    }
                    break;
                }
            case SplitBehavior.MergedWithPrevious:
                {
                    bool previous = false;
                    foreach (var m in matches)
                    {
                        if (m.IsMatch && !previous && ranges.Count > 0)
                        {
                            ranges[^1] = (ranges[^1].Start, m.End, false);
                        }
                        else
                        {
                            ranges.Add((m.Start, m.End, false));
                        }
                        previous = m.IsMatch;
                    }
                    break;
                }
            case SplitBehavior.MergedWithNext:
                {
                    bool previous = false;
                    for (int i = matches.Count - 1; i >= 0; i--)
                    {
                        var m = matches[i];
                        if (m.IsMatch && !previous && ranges.Count > 0)
                        {
                            ranges[^1] = (m.Start, ranges[^1].End, false);
                        }
                        else
                        {
                            ranges.Add((m.Start, m.End, false));
                        }
                        previous = m.IsMatch;
                    }
                    ranges.Reverse();
                    break;
                }
        }
        var result = new List<TextSplit>(ranges.Count);
        foreach (var (start, end, remove) in ranges)
        {
            if (!remove)
            {
                result.Add(new TextSplit(s[start..end], split.AtStart && start == 0));
            }
        }
        return result;
    }
}

internal sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> parts) : PreTokenizer
{
    protected override IEnumerable<TextSplit> Split(TextSplit split) => [split];

    protected override List<TextSplit> PostProcess(List<TextSplit> splits)
    {
        foreach (var part in parts)
        {
            splits = part.PreTokenize(splits);
        }
        return splits;
    }
}

internal sealed class PatternSplitPreTokenizer(SplitPattern pattern, SplitBehavior behavior, bool invert) : PreTokenizer
{
    protected override IEnumerable<TextSplit> Split(TextSplit split) => SplitBy(split, pattern, behavior, invert);
}

internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : PreTokenizer
{
    /// <summary>GPT-2's pattern, as the Rust library writes it.</summary>
    private static readonly SplitPattern Gpt2Pattern =
        SplitPattern.FromRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+");

    protected override IEnumerable<TextSplit> Split(TextSplit split)
    {
        if (addPrefixSpace && !split.Text.StartsWith(' '))
        {
            split = split with { Text = " " + split.Text };
        }
        return useRegex ? SplitBy(split, Gpt2Pattern, SplitBehavior.Isolated) : [split];
    }

    protected override List<TextSplit> PostProcess(List<TextSplit> splits)
    {
        for (int i = 0; i < splits.Count; i++)
        {
            splits[i] = splits[i] with { Text = ByteLevelNormalizer.ToByteLevel(splits[i].Text) };
        }
        return splits;
    }
}

internal enum PrependScheme
{
    Always,
    First,
    Never,
}

internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : PreTokenizer
{
    public char Replacement => replacement;

    public PrependScheme Scheme => scheme;

    protected override IEnumerable<TextSplit> Split(TextSplit piece)
    {
        string text = piece.Text.Replace(' ', replacement);
        bool prepend = scheme switch
        {
            PrependScheme.Always => true,
            PrependScheme.First => piece.AtStart,
            _ => false,
        };
        if (prepend && !text.StartsWith(replacement))
        {
            text = replacement + text;
        }
        var replaced = new TextSplit(text, piece.AtStart);
        return split
            ? SplitBy(replaced, SplitPattern.Chars(c => c == replacement), SplitBehavior.MergedWithNext)
            : [replaced];
    }
}

internal sealed class CharPredicatePreTokenizer(Func<int, bool> predicate, SplitBehavior behavior) : PreTokenizer
{
    private readonly SplitPattern _pattern = SplitPattern.Chars(predicate);

    protected override IEnumerable<TextSplit> Split(TextSplit split) => SplitBy(split, _pattern, behavior);
}

internal sealed class WhitespacePreTokenizer : PreTokenizer
{
    private static readonly SplitPattern Words = SplitPattern.FromRegex(@"[\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\u200C\u200D]+|[^\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\u200C\u200D\s]+");

    protected override IEnumerable<TextSplit> Split(TextSplit split) => SplitBy(split, Words, SplitBehavior.Removed, invert: true);
}

internal sealed class BertPreTokenizer : PreTokenizer
{
    private static readonly SplitPattern Space = SplitPattern.Chars(UnicodeText.IsWhitespace);
    private static readonly SplitPattern Punctuation = SplitPattern.Chars(UnicodeText.IsPunctuation);

    protected override IEnumerable<TextSplit> Split(TextSplit split)
    {
        foreach (var word in SplitBy(split, Space, SplitBehavior.Removed))
        {
            foreach (var piece in SplitBy(word, Punctuation, SplitBehavior.Isolated))
            {
                yield return piece;
            }
        }
    }
}

internal sealed class FixedLengthPreTokenizer(int length) : PreTokenizer
{
    protected override IEnumerable<TextSplit> Split(TextSplit split)
    {
        var points = UnicodeText.CodePoints(split.Text);
        var builder = new StringBuilder();
        for (int i = 0; i < points.Count; i += length)
        {
            builder.Clear();
            for (int j = i; j < Math.Min(points.Count, i + length); j++)
            {
                UnicodeText.Append(builder, points[j]);
            }
            yield return new TextSplit(builder.ToString(), split.AtStart && i == 0);
        }
    }
}
