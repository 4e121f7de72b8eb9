namespace InseqBridge.Tokenizers.Common;

/// <summary>
/// Cuts added/special tokens out of a text before the model tokenizes the rest, the way Hugging Face slow tokenizers
/// do (<c>tokens_trie.split</c> followed by the <c>lstrip</c>/<c>rstrip</c>/<c>single_word</c> fix-ups).
/// Immutable after construction.
/// </summary>
internal sealed class AddedTokenSplitter
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }

    private readonly Node _root = new();
    private readonly Dictionary<string, AddedToken> _byContent;

    /// <summary>Builds the matcher over <paramref name="tokens"/>.</summary>
    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var token in tokens)
        {
            if (token.Content.Length == 0 || !_byContent.TryAdd(token.Content, token))
            {
                continue;
            }
            var node = _root;
            foreach (char c in token.Content)
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(c, out var next))
                {
                    next = new Node();
                    node.Children[c] = next;
                }
                node = next;
            }
            node.Token = token;
        }
    }

    /// <summary>
    /// Splits <paramref name="text"/> into pieces; a piece is either an added token's content (then
    /// <see cref="IsAddedToken"/> is true for it) or plain text for the model. Empty pieces are dropped.
    /// </summary>
    public List<string> Split(string text)
    {
        var parts = SplitOnTokens(text);
        ApplyStripRules(parts);
        var result = new List<string>(parts.Count);
        foreach (var part in parts)
        {
            if (part.Length > 0)
            {
                result.Add(part);
            }
        }
        return result;
    }

    /// <summary>True when <paramref name="piece"/> is exactly an added token (Python: <c>token in no_split_token</c>).</summary>
    public bool IsAddedToken(string piece) => _byContent.ContainsKey(piece);

    // Leftmost-longest matching: at each position the longest added token starting there wins.
    private List<string> SplitOnTokens(string text)
    {
        var parts = new List<string>();
        if (_byContent.Count == 0)
        {
            parts.Add(text);
            return parts;
        }
        int segmentStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            int matchLength = LongestMatchAt(text, i);
            if (matchLength == 0)
            {
                i++;
                continue;
            }
            if (i > segmentStart)
            {
                parts.Add(text[segmentStart..i]);
            }
            parts.Add(text.Substring(i, matchLength));
            i += matchLength;
            segmentStart = i;
        }
        if (segmentStart < text.Length || parts.Count == 0)
        {
            parts.Add(text[segmentStart..]);
        }
        return parts;
    }

    private int LongestMatchAt(string text, int start)
    {
        var node = _root;
        int best = 0;
        for (int j = start; j < text.Length; j++)
        {
            if (node.Children is null || !node.Children.TryGetValue(text[j], out node))
            {
                break;
            }
            if (node.Token is not null)
            {
                best = j - start + 1;
            }
        }
        return best;
    }

    // Mirrors the in-place loop of PreTrainedTokenizer.tokenize: a later token sees the neighbours an earlier one
    // already stripped.
    private void ApplyStripRules(List<string> parts)
    {
        for (int i = 0; i < parts.Count; i++)
        {
            if (!_byContent.TryGetValue(parts[i], out var token))
            {
                continue;
            }
            string? left = i > 0 ? parts[i - 1] : null;
            string? right = i < parts.Count - 1 ? parts[i + 1] : null;
            if (token.RStrip && !string.IsNullOrEmpty(right))
            {
                parts[i + 1] = PythonText.LStrip(right);
            }
            if (token.LStrip && !string.IsNullOrEmpty(left))
            {
                parts[i - 1] = PythonText.RStrip(left);
            }
            if (token.SingleWord && !string.IsNullOrEmpty(left) && left[^1] != ' ')
            {
                parts[i - 1] += parts[i];
                parts[i] = "";
            }
            else if (token.SingleWord && !string.IsNullOrEmpty(right) && right[0] != ' ')
            {
                parts[i] += right;
                parts[i + 1] = "";
            }
        }
    }
}
