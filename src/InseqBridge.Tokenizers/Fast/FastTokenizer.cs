using InseqBridge.Tokenizers.Common;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>
/// A <c>tokenizer.json</c> tokenizer that behaves like Hugging Face's Rust <c>tokenizers</c> library (added tokens,
/// normalizer, pre-tokenizer, model, post-processor, decoder), plus the two rules transformers' fast classes add on
/// top: Llama- and Gemma-class tokenizers rebuild the post-processor from <c>add_bos_token</c>/<c>add_eos_token</c>,
/// and <c>decode</c> applies <c>clean_up_tokenization_spaces</c>. Immutable, so thread-safe.
/// </summary>
internal sealed class FastTokenizer : IHfTokenizer
{
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly FastModel _model;
    private readonly PostProcessor? _postProcessor;
    private readonly Decoder? _decoder;
    private readonly AddedVocabulary _added;
    private readonly bool _cleanUpTokenizationSpaces;
    private readonly HashSet<int> _allSpecialIds = [];

    public FastTokenizer(TokenizerJson json, string className, PostProcessor? postProcessor, bool cleanUpTokenizationSpaces,
        TokenizerFolder? folder, IReadOnlyDictionary<string, string>? specialDefaults = null)
    {
        _normalizer = json.Normalizer;
        _preTokenizer = json.PreTokenizer;
        _model = json.Model;
        _decoder = json.Decoder;
        _added = json.Added;
        _postProcessor = postProcessor;
        _cleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        TokenizerClass = className;

        int count = _model.VocabSize;
        foreach (int id in _added.Ids)
        {
            if (_model.TokenToId(_added.Entry(id)!.Content) is null)
            {
                count++;
            }
        }
        Count = count;

        var declared = new Dictionary<string, TokenAndId>(StringComparer.Ordinal);
        var ordered = new List<int>();
        if (folder is not null)
        {
            var all = new List<string>();
            foreach (var attribute in TokenizerFolder.SpecialTokenAttributes)
            {
                string? fallback = specialDefaults is not null && specialDefaults.TryGetValue(attribute, out var d) ? d : null;
                if (folder.GetSpecialToken(attribute, fallback) is { } declaration && TokenToId(declaration.Content) is { } id)
                {
                    declared[attribute] = new TokenAndId(declaration.Content, id);
                    all.Add(declaration.Content);
                }
            }
            all.AddRange(folder.GetAdditionalSpecialTokens().Select(d => d.Content));
            foreach (var content in all)
            {
                if (TokenToId(content) is { } id && _allSpecialIds.Add(id))
                {
                    ordered.Add(id);
                }
            }
        }
        Special = new SpecialTokens(declared.GetValueOrDefault("bos_token"), declared.GetValueOrDefault("eos_token"),
            declared.GetValueOrDefault("unk_token"), declared.GetValueOrDefault("pad_token"), ordered);
    }

    /// <inheritdoc />
    public string TokenizerClass { get; }

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public SpecialTokens Special { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, bool asTarget = false) =>
        EncodeWithTokens(text, addSpecialTokens).Ids;

    /// <inheritdoc />
    public EncodedTokens EncodeWithTokens(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = EncodeTokens(text);
        if (addSpecialTokens && _postProcessor is not null)
        {
            tokens = _postProcessor.Process(tokens);
        }
        return new EncodedTokens(tokens.ConvertAll(t => t.Id), tokens.ConvertAll(t => t.Value));
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Tokenize(string text, bool asTarget = false) => EncodeWithTokens(text, false).Tokens;

    /// <inheritdoc />
    public IReadOnlyList<string> ConvertIdsToTokens(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            tokens.Add(IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id,
                $"Id {id} is not in the {TokenizerClass} vocabulary (size {Count})."));
        }
        return tokens;
    }

    /// <inheritdoc />
    public string? IdToToken(int id) => _added.IdToToken(id) ?? _model.IdToToken(id);

    /// <inheritdoc />
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _added.TokenToId(token) ?? _model.TokenToId(token);
    }

    /// <inheritdoc />
    public bool IsSpecial(int id) => _allSpecialIds.Contains(id);

    /// <summary>The Rust library's <c>decode</c> (no clean-up): unknown ids are dropped as the library drops them.</summary>
    public string DecodeRaw(IEnumerable<int> ids, bool skipSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (IdToToken(id) is { } token && !(skipSpecialTokens && _added.IsSpecialToken(token)))
            {
                tokens.Add(token);
            }
        }
        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null)
    {
        string text = DecodeRaw(ids, skipSpecialTokens);
        return (cleanUpTokenizationSpaces ?? _cleanUpTokenizationSpaces) ? TokenizationCleanup.Apply(text) : text;
    }

    private List<FastToken> EncodeTokens(string text)
    {
        var output = new List<FastToken>();
        foreach (var (start, end, id) in _added.SplitRaw(text))
        {
            if (end == start)
            {
                continue;
            }
            string part = text[start..end];
            if (id is { } rawId)
            {
                output.Add(new FastToken(rawId, part));
                continue;
            }
            bool removedLeading = false;
            string normalized = _normalizer is null ? part : _normalizer.Normalize(part, ref removedLeading);
            bool atStart = start == 0 && !removedLeading;
            var splits = new List<TextSplit>();
            var pending = new List<(TextSplit Split, int? Id)>();
            foreach (var (s, e, nid) in _added.SplitNormalized(normalized))
            {
                if (e > s)
                {
                    pending.Add((new TextSplit(normalized[s..e], atStart && s == 0), nid));
                }
            }
            // Pre-tokenize each run of text between normalized added tokens; added tokens pass through as they are.
            foreach (var (split, nid) in pending)
            {
                if (nid is { } addedId)
                {
                    output.Add(new FastToken(addedId, split.Text));
                    continue;
                }
                var pieces = _preTokenizer is null ? [split] : _preTokenizer.PreTokenize([split]);
                foreach (var piece in pieces)
                {
                    _model.Tokenize(piece.Text, output);
                }
            }
        }
        return output;
    }
}
