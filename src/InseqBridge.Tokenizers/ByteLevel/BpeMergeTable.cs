namespace InseqBridge.Tokenizers.ByteLevel;

/// <summary>
/// The ranked merges of a BPE model (<c>merges.txt</c>): lower rank merges first. Immutable; per-word results are
/// cached because natural text repeats words a lot.
/// </summary>
internal sealed class BpeMergeTable
{
    private readonly Dictionary<(string Left, string Right), int> _ranks;
    private const int MaxCachedWords = 100_000;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string[]> _cache = new(StringComparer.Ordinal);
    private int _cachedWords;

    /// <summary>Creates the table from merges in rank order.</summary>
    public BpeMergeTable(IReadOnlyList<(string Left, string Right)> merges)
    {
        _ranks = new Dictionary<(string, string), int>(merges.Count);
        for (int i = 0; i < merges.Count; i++)
        {
            // A repeated merge keeps its last rank, as dict(zip(merges, range(len(merges)))) does in Python.
            _ranks[merges[i]] = i;
        }
    }

    /// <summary>Number of merges.</summary>
    public int Count => _ranks.Count;

    /// <summary>
    /// Applies the merges to <paramref name="word"/> (a string of byte-level characters) and returns its pieces,
    /// like <c>GPT2Tokenizer.bpe(token).split(" ")</c>.
    /// </summary>
    public string[] Encode(string word)
    {
        if (_cache.TryGetValue(word, out var cached))
        {
            return cached;
        }
        var result = Merge(word);
        // Bounded so that a long-running process fed arbitrary text cannot grow the cache without limit; a counter
        // instead of _cache.Count, which takes every lock of the dictionary.
        if (Volatile.Read(ref _cachedWords) < MaxCachedWords && _cache.TryAdd(word, result))
        {
            Interlocked.Increment(ref _cachedWords);
        }
        return result;
    }

    private string[] Merge(string word)
    {
        var symbols = new List<string>(word.Length);
        foreach (char c in word)
        {
            symbols.Add(c.ToString());
        }
        if (symbols.Count < 2)
        {
            return [.. symbols];
        }
        while (true)
        {
            int bestRank = int.MaxValue;
            string? bestLeft = null;
            string? bestRight = null;
            for (int i = 0; i < symbols.Count - 1; i++)
            {
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    bestLeft = symbols[i];
                    bestRight = symbols[i + 1];
                }
            }
            if (bestLeft is null || bestRight is null)
            {
                break;
            }
            // Merge every non-overlapping occurrence of the best pair, left to right.
            var merged = new List<string>(symbols.Count);
            int j = 0;
            while (j < symbols.Count)
            {
                if (j < symbols.Count - 1 && symbols[j] == bestLeft && symbols[j + 1] == bestRight)
                {
                    merged.Add(bestLeft + bestRight);
                    j += 2;
                }
                else
                {
                    merged.Add(symbols[j]);
                    j++;
                }
            }
            symbols = merged;
            if (symbols.Count == 1)
            {
                break;
            }
        }
        return [.. symbols];
    }
}
