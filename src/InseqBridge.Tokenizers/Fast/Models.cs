using System.Text;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>A token produced by the pipeline: its id and its string (the Rust library's <c>Token.value</c>).</summary>
internal readonly record struct FastToken(int Id, string Value);

/// <summary>The <c>model</c> of <c>tokenizer.json</c>.</summary>
internal abstract class FastModel
{
    /// <summary>Tokenizes one pre-tokenized split.</summary>
    public abstract void Tokenize(string piece, List<FastToken> output);

    /// <summary>Id of a vocabulary entry.</summary>
    public abstract int? TokenToId(string token);

    /// <summary>Vocabulary entry of an id.</summary>
    public abstract string? IdToToken(int id);

    /// <summary>Number of vocabulary entries.</summary>
    public abstract int VocabSize { get; }

    protected static string[] Reverse(Dictionary<string, int> vocab)
    {
        int max = vocab.Count == 0 ? -1 : vocab.Values.Max();
        var reverse = new string[max + 1];
        foreach (var (token, id) in vocab)
        {
            if (id >= 0)
            {
                reverse[id] = token;
            }
        }
        return reverse;
    }
}

internal sealed class BpeModel : FastModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _reverse;
    private readonly Dictionary<(int, int), (int Rank, int NewId)> _merges;
    private readonly string? _unkToken;
    private readonly string? _prefix;
    private readonly string? _suffix;
    private readonly bool _fuseUnk;
    private readonly bool _byteFallback;
    private readonly bool _ignoreMerges;
    private readonly int?[] _byteIds = new int?[256];
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _spanLookup;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private const int CacheCapacity = 10_000;
    private const int CacheMaxLength = 256;

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string, string)> merges, string? unkToken,
        string? continuingSubwordPrefix, string? endOfWordSuffix, bool fuseUnk, bool byteFallback, bool ignoreMerges)
    {
        _vocab = vocab;
        _spanLookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _reverse = Reverse(vocab);
        _unkToken = unkToken;
        _prefix = continuingSubwordPrefix;
        _suffix = endOfWordSuffix;
        _fuseUnk = fuseUnk;
        _byteFallback = byteFallback;
        _ignoreMerges = ignoreMerges;
        int prefixLength = continuingSubwordPrefix?.Length ?? 0;
        _merges = new Dictionary<(int, int), (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            if (!vocab.TryGetValue(a, out int aId) || !vocab.TryGetValue(b, out int bId))
            {
                throw new InvalidOperationException($"merge '{a} {b}' uses a token that is not in the vocabulary");
            }
            string merged = a + (prefixLength > 0 && b.Length >= prefixLength ? b[prefixLength..] : b);
            if (!vocab.TryGetValue(merged, out int newId))
            {
                throw new InvalidOperationException($"merge '{a} {b}' makes '{merged}', which is not in the vocabulary");
            }
            _merges[(aId, bId)] = (rank, newId);
        }
        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : null;
        }
    }

    public override int VocabSize => _vocab.Count;

    public override int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public override string? IdToToken(int id) => id >= 0 && id < _reverse.Length ? _reverse[id] : null;

    public override void Tokenize(string piece, List<FastToken> output)
    {
        if (piece.Length == 0)
        {
            return;
        }
        if (_ignoreMerges && _vocab.TryGetValue(piece, out int whole))
        {
            output.Add(new FastToken(whole, piece));
            return;
        }
        // Words are tokenized independently of their context, so results can be cached (as the Rust library does).
        if (piece.Length <= CacheMaxLength && _cache.TryGetValue(piece, out var cached))
        {
            foreach (int id in cached)
            {
                output.Add(new FastToken(id, _reverse[id]));
            }
            return;
        }
        var symbols = MergeWord(piece);
        if (piece.Length <= CacheMaxLength && _cache.Count < CacheCapacity)
        {
            _cache.TryAdd(piece, [.. symbols]);
        }
        foreach (int id in symbols)
        {
            output.Add(new FastToken(id, _reverse[id]));
        }
    }

    private List<int> MergeWord(string piece)
    {
        var symbols = new List<int>(piece.Length);
        int? unk = null;
        int unkId = -1;
        for (int i = 0; i < piece.Length;)
        {
            int len = UnicodeText.CharLength(piece, i);
            bool isFirst = i == 0;
            bool isLast = i + len == piece.Length;
            int start = i;
            i += len;
            bool affixed = (!isFirst && _prefix is { Length: > 0 }) || (isLast && _suffix is { Length: > 0 });
            string? s = null;
            int id;
            bool found;
            if (affixed)
            {
                s = piece.Substring(start, len);
                if (!isFirst && _prefix is not null)
                {
                    s = _prefix + s;
                }
                if (isLast && _suffix is not null)
                {
                    s += _suffix;
                }
                found = _vocab.TryGetValue(s, out id);
            }
            else
            {
                found = _spanLookup.TryGetValue(piece.AsSpan(start, len), out id);
            }
            if (found)
            {
                if (unk is { } pending)
                {
                    symbols.Add(pending);
                    unk = null;
                }
                symbols.Add(id);
                continue;
            }
            s ??= piece.Substring(start, len);
            if (_byteFallback)
            {
                var bytes = Encoding.UTF8.GetBytes(s);
                bool all = true;
                foreach (byte b in bytes)
                {
                    if (_byteIds[b] is null)
                    {
                        all = false;
                        break;
                    }
                }
                if (all)
                {
                    foreach (byte b in bytes)
                    {
                        symbols.Add(_byteIds[b]!.Value);
                    }
                    continue;
                }
            }
            if (_unkToken is not null)
            {
                if (unkId < 0)
                {
                    unkId = _vocab.TryGetValue(_unkToken, out int u) ? u
                        : throw new InvalidOperationException($"the unknown token '{_unkToken}' is not in the vocabulary");
                }
                if (unk is { } pending && !_fuseUnk)
                {
                    symbols.Add(pending);
                }
                unk = unkId;
            }
        }
        if (unk is { } last)
        {
            symbols.Add(last);
        }
        MergeAll(symbols);
        return symbols;
    }

    // Lowest rank first, then leftmost; a linked list of symbols as in the Rust library's Word::merge_all.
    private void MergeAll(List<int> symbols)
    {
        int n = symbols.Count;
        if (n < 2)
        {
            return;
        }
        var ids = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
            alive[i] = true;
        }
        // Priority: rank, then position (leftmost first), packed in one long.
        var queue = new PriorityQueue<(int Pos, int NewId), long>();
        for (int i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue((ids[i], ids[i + 1]), out var m))
            {
                queue.Enqueue((i, m.NewId), ((long)m.Rank << 32) | (uint)i);
            }
        }
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (!alive[pos] || next[pos] == -1)
            {
                continue;
            }
            int right = next[pos];
            if (!_merges.TryGetValue((ids[pos], ids[right]), out var current) || current.NewId != top.NewId)
            {
                continue;
            }
            ids[pos] = top.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[right] != -1)
            {
                prev[next[right]] = pos;
            }
            if (prev[pos] >= 0 && _merges.TryGetValue((ids[prev[pos]], ids[pos]), out var left))
            {
                queue.Enqueue((prev[pos], left.NewId), ((long)left.Rank << 32) | (uint)prev[pos]);
            }
            if (next[pos] != -1 && _merges.TryGetValue((ids[pos], ids[next[pos]]), out var after))
            {
                queue.Enqueue((pos, after.NewId), ((long)after.Rank << 32) | (uint)pos);
            }
        }
        symbols.Clear();
        for (int i = 0; i != -1; i = next[i])
        {
            symbols.Add(ids[i]);
        }
    }
}

internal sealed class WordPieceModel(Dictionary<string, int> vocab, string unkToken, string prefix, int maxInputCharsPerWord) : FastModel
{
    private readonly string[] _reverse = Reverse(vocab);

    public override int VocabSize => vocab.Count;

    public override int? TokenToId(string token) => vocab.TryGetValue(token, out int id) ? id : null;

    public override string? IdToToken(int id) => id >= 0 && id < _reverse.Length ? _reverse[id] : null;

    public override void Tokenize(string piece, List<FastToken> output)
    {
        int unkId = vocab.TryGetValue(unkToken, out int u) ? u
            : throw new InvalidOperationException($"the unknown token '{unkToken}' is not in the vocabulary");
        var points = UnicodeText.CodePoints(piece);
        if (points.Count > maxInputCharsPerWord)
        {
            output.Add(new FastToken(unkId, unkToken));
            return;
        }
        var pieces = new List<FastToken>();
        int start = 0;
        while (start < points.Count)
        {
            int end = points.Count;
            FastToken? found = null;
            while (start < end)
            {
                var builder = new StringBuilder();
                if (start > 0)
                {
                    builder.Append(prefix);
                }
                for (int i = start; i < end; i++)
                {
                    UnicodeText.Append(builder, points[i]);
                }
                string candidate = builder.ToString();
                if (vocab.TryGetValue(candidate, out int id))
                {
                    found = new FastToken(id, candidate);
                    break;
                }
                end--;
            }
            if (found is null)
            {
                output.Add(new FastToken(unkId, unkToken));
                return;
            }
            pieces.Add(found.Value);
            start = end;
        }
        output.AddRange(pieces);
    }
}

internal sealed class WordLevelModel(Dictionary<string, int> vocab, string unkToken) : FastModel
{
    private readonly string[] _reverse = Reverse(vocab);

    public override int VocabSize => vocab.Count;

    public override int? TokenToId(string token) => vocab.TryGetValue(token, out int id) ? id : null;

    public override string? IdToToken(int id) => id >= 0 && id < _reverse.Length ? _reverse[id] : null;

    public override void Tokenize(string piece, List<FastToken> output)
    {
        if (vocab.TryGetValue(piece, out int id))
        {
            output.Add(new FastToken(id, piece));
        }
        else if (vocab.TryGetValue(unkToken, out int unk))
        {
            output.Add(new FastToken(unk, unkToken));
        }
        else
        {
            throw new InvalidOperationException($"'{piece}' is not in the vocabulary and the unknown token '{unkToken}' is missing");
        }
    }
}

internal sealed class UnigramModel : FastModel
{
    private sealed class TrieNode
    {
        public Dictionary<char, TrieNode>? Children;
        public bool IsPiece;
    }

    private const double UnkPenalty = 10.0;
    private readonly (string Piece, double Score)[] _pieces;
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly TrieNode _root = new();
    private readonly int? _unkId;
    private readonly bool _byteFallback;
    private readonly double _minScore = double.PositiveInfinity;

    public UnigramModel((string Piece, double Score)[] pieces, int? unkId, bool byteFallback)
    {
        _pieces = pieces;
        _unkId = unkId;
        _byteFallback = byteFallback;
        for (int id = 0; id < pieces.Length; id++)
        {
            var (piece, score) = pieces[id];
            _ids[piece] = id;
            if (score < _minScore)
            {
                _minScore = score;
            }
            if (piece.Length > 0)
            {
                var node = _root;
                foreach (char c in piece)
                {
                    node.Children ??= [];
                    if (!node.Children.TryGetValue(c, out var child))
                    {
                        node.Children[c] = child = new TrieNode();
                    }
                    node = child;
                }
                node.IsPiece = true;
            }
        }
    }

    public override int VocabSize => _pieces.Length;

    public override int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    public override string? IdToToken(int id) => id >= 0 && id < _pieces.Length ? _pieces[id].Piece : null;

    public override void Tokenize(string piece, List<FastToken> output)
    {
        if (piece.Length == 0)
        {
            return;
        }
        foreach (string s in Encode(piece))
        {
            if (_ids.TryGetValue(s, out int id))
            {
                output.Add(new FastToken(id, s));
                continue;
            }
            if (_byteFallback)
            {
                var bytes = Encoding.UTF8.GetBytes(s);
                var byteTokens = new List<FastToken>(bytes.Length);
                foreach (byte b in bytes)
                {
                    string name = $"<0x{b:X2}>";
                    if (!_ids.TryGetValue(name, out int byteId))
                    {
                        byteTokens = null;
                        break;
                    }
                    byteTokens.Add(new FastToken(byteId, name));
                }
                if (byteTokens is not null)
                {
                    output.AddRange(byteTokens);
                    continue;
                }
            }
            output.Add(new FastToken(_unkId ?? throw new InvalidOperationException("the Unigram model has no unk_id"), s));
        }
    }

    // Viterbi over UTF-16 positions, stepping by code point, as the Rust library's encode_optimized does over bytes.
    private List<string> Encode(string s)
    {
        int size = s.Length;
        double unkScore = _minScore - UnkPenalty;
        var bestScore = new double[size + 1];
        var startsAt = new int[size + 1];
        var nodeId = new int[size + 1];
        Array.Fill(startsAt, -1);
        for (int start = 0; start < size;)
        {
            double till = bestScore[start];
            bool hasSingle = false;
            int charLength = UnicodeText.CharLength(s, start);
            var node = _root;
            for (int pos = start; pos < size; pos++)
            {
                if (node.Children is null || !node.Children.TryGetValue(s[pos], out node))
                {
                    break;
                }
                if (!node.IsPiece)
                {
                    continue;
                }
                {
                    int key = pos + 1;
                    int pieceLength = key - start;
                    // Only whole code points: a piece ending inside a surrogate pair cannot match UTF-8 bytes.
                    if (key < size && char.IsLowSurrogate(s[key]) && char.IsHighSurrogate(s[key - 1]))
                    {
                        continue;
                    }
                    int effectiveId = _ids[s[start..key]];
                    double candidate = _pieces[effectiveId].Score + till;
                    if (startsAt[key] < 0 || candidate > bestScore[key])
                    {
                        bestScore[key] = candidate;
                        startsAt[key] = start;
                        nodeId[key] = effectiveId;
                    }
                    if (pieceLength == charLength)
                    {
                        hasSingle = true;
                    }
                }
            }
            if (!hasSingle)
            {
                int key = start + charLength;
                double candidate = unkScore + till;
                if (startsAt[key] < 0 || candidate > bestScore[key])
                {
                    bestScore[key] = candidate;
                    startsAt[key] = start;
                    nodeId[key] = _unkId ?? throw new InvalidOperationException("the Unigram model has no unk_id");
                }
            }
            start += charLength;
        }
        var results = new List<string>();
        var unkParts = new List<string>();
        for (int end = size; end > 0;)
        {
            int start = startsAt[end];
            string part = s[start..end];
            if (_unkId is { } unk && nodeId[end] == unk)
            {
                unkParts.Add(part);
            }
            else
            {
                if (unkParts.Count > 0)
                {
                    unkParts.Reverse();
                    results.Add(string.Concat(unkParts));
                    unkParts.Clear();
                }
                results.Add(part);
            }
            end = start;
        }
        if (unkParts.Count > 0)
        {
            unkParts.Reverse();
            results.Add(string.Concat(unkParts));
        }
        results.Reverse();
        return results;
    }
}
