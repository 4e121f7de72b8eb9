namespace InseqBridge.Tokenizers.Fast;

/// <summary>An entry of <c>added_tokens</c> in <c>tokenizer.json</c>.</summary>
internal sealed record FastAddedToken(string Content, bool Special, bool LStrip, bool RStrip, bool SingleWord, bool Normalized);

/// <summary>
/// The Rust library's <c>AddedVocabulary</c>: added tokens with their ids, and the leftmost-longest search that cuts
/// them out of the input, first the tokens matched on the raw text (normalized=false), then, after normalization,
/// the others.
/// </summary>
internal sealed class AddedVocabulary
{
    private readonly Dictionary<string, int> _byContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, FastAddedToken> _byId = [];
    private readonly Dictionary<int, string> _normalizedContent = [];
    private readonly HashSet<string> _special = new(StringComparer.Ordinal);
    private Matcher? _raw;
    private Matcher? _normalized;

    /// <summary>Adds the tokens in order, as <c>AddedVocabulary::add_tokens</c> does when a tokenizer.json is read.</summary>
    public AddedVocabulary(IEnumerable<FastAddedToken> tokens, FastModel model, Normalizer? normalizer)
    {
        int nextId = model.VocabSize;
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0)
            {
                continue;
            }
            if (_byContent.TryGetValue(token.Content, out int existing) && _byId.TryGetValue(existing, out var same) && same == token)
            {
                continue;
            }
            int id = _byContent.TryGetValue(token.Content, out int known) ? known : model.TokenToId(token.Content) ?? nextId++;
            if (token.Normalized && normalizer is not null)
            {
                string normed = normalizer.Normalize(token.Content);
                if (normed != token.Content)
                {
                    _normalizedContent[id] = normed;
                }
                else
                {
                    _normalizedContent.Remove(id);
                }
            }
            _byContent[token.Content] = id;
            if (token.Special)
            {
                _special.Add(token.Content);
            }
            _byId[id] = token;
        }
        var raw = new List<(string, int)>();
        var normalized = new List<(string, int)>();
        foreach (var (id, token) in _byId)
        {
            if (token.Normalized)
            {
                normalized.Add((_normalizedContent.TryGetValue(id, out var n) ? n : token.Content, id));
            }
            else
            {
                raw.Add((token.Content, id));
            }
        }
        _raw = raw.Count == 0 ? null : new Matcher(raw);
        _normalized = normalized.Count == 0 ? null : new Matcher(normalized);
    }

    /// <summary>Number of distinct added ids.</summary>
    public int Count => _byId.Count;

    /// <summary>Every added id.</summary>
    public IEnumerable<int> Ids => _byId.Keys;

    /// <summary>The id of an added token's content.</summary>
    public int? TokenToId(string content) => _byContent.TryGetValue(content, out int id) ? id : null;

    /// <summary><c>simple_id_to_token</c>: the (normalized, where it was normalized) content of an added id.</summary>
    public string? IdToToken(int id) =>
        _byId.TryGetValue(id, out var token) ? (_normalizedContent.TryGetValue(id, out var n) ? n : token.Content) : null;

    /// <summary>True when <paramref name="content"/> is a special added token.</summary>
    public bool IsSpecialToken(string content) => _special.Contains(content);

    /// <summary>The entry of an added id.</summary>
    public FastAddedToken? Entry(int id) => _byId.TryGetValue(id, out var token) ? token : null;

    /// <summary>Cuts the raw-text added tokens out of <paramref name="text"/>.</summary>
    public List<(int Start, int End, int? Id)> SplitRaw(string text) => FindMatches(text, _raw);

    /// <summary>Cuts the normalized added tokens out of normalized text.</summary>
    public List<(int Start, int End, int? Id)> SplitNormalized(string text) => FindMatches(text, _normalized);

    private List<(int Start, int End, int? Id)> FindMatches(string sentence, Matcher? matcher)
    {
        var splits = new List<(int, int, int?)>();
        if (sentence.Length == 0)
        {
            splits.Add((0, 0, null));
            return splits;
        }
        if (matcher is null)
        {
            splits.Add((0, sentence.Length, null));
            return splits;
        }
        int startOffset = 0;
        int position = 0;
        while (position < sentence.Length)
        {
            if (matcher.LongestAt(sentence, position) is not { } match)
            {
                position++;
                continue;
            }
            int start = position;
            int stop = position + match.Length;
            position = stop;
            var token = _byId[match.Id];
            if (token.SingleWord)
            {
                bool startSpace = start == 0 || !EndsWithWord(sentence, start);
                bool stopSpace = stop == sentence.Length || !StartsWithWord(sentence, stop);
                if (!startSpace || !stopSpace)
                {
                    continue;
                }
            }
            if (token.LStrip)
            {
                int newStart = start;
                while (newStart > 0 && IsSpaceBefore(sentence, newStart, out int width))
                {
                    newStart -= width;
                }
                start = Math.Max(newStart, startOffset);
            }
            if (token.RStrip)
            {
                while (stop < sentence.Length && IsSpaceAt(sentence, stop, out int width))
                {
                    stop += width;
                }
                position = stop;
            }
            if (startOffset < start)
            {
                splits.Add((startOffset, start, null));
            }
            splits.Add((start, stop, match.Id));
            startOffset = stop;
        }
        if (startOffset != sentence.Length)
        {
            splits.Add((startOffset, sentence.Length, null));
        }
        return splits;
    }

    private static bool EndsWithWord(string s, int end)
    {
        int c = char.IsLowSurrogate(s[end - 1]) && end >= 2 && char.IsHighSurrogate(s[end - 2])
            ? char.ConvertToUtf32(s[end - 2], s[end - 1]) : s[end - 1];
        return UnicodeText.IsWordChar(c);
    }

    private static bool StartsWithWord(string s, int start)
    {
        int c = UnicodeText.CharLength(s, start) == 2 ? char.ConvertToUtf32(s[start], s[start + 1]) : s[start];
        return UnicodeText.IsWordChar(c);
    }

    private static bool IsSpaceBefore(string s, int end, out int width)
    {
        width = 1;
        return UnicodeText.IsWhitespace(s[end - 1]);
    }

    private static bool IsSpaceAt(string s, int start, out int width)
    {
        width = 1;
        return UnicodeText.IsWhitespace(s[start]);
    }

    /// <summary>Longest pattern starting at a position (a character trie).</summary>
    private sealed class Matcher
    {
        private sealed class Node
        {
            public Dictionary<char, Node>? Children;
            public int Id = -1;
        }

        private readonly Node _root = new();

        public Matcher(List<(string Pattern, int Id)> patterns)
        {
            foreach (var (pattern, id) in patterns)
            {
                if (pattern.Length == 0)
                {
                    continue;
                }
                var node = _root;
                foreach (char c in pattern)
                {
                    node.Children ??= [];
                    if (!node.Children.TryGetValue(c, out var child))
                    {
                        child = new Node();
                        node.Children[c] = child;
                    }
                    node = child;
                }
                node.Id = id;
            }
        }

        public (int Length, int Id)? LongestAt(string s, int position)
        {
            (int, int)? best = null;
            var node = _root;
            for (int i = position; i < s.Length; i++)
            {
                if (node.Children is null || !node.Children.TryGetValue(s[i], out var child))
                {
                    break;
                }
                node = child;
                if (node.Id >= 0)
                {
                    best = (i + 1 - position, node.Id);
                }
            }
            return best;
        }
    }
}
