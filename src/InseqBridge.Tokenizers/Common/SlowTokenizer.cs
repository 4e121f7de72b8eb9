namespace InseqBridge.Tokenizers.Common;

/// <summary>
/// Hugging Face's <c>PreTrainedTokenizer</c> logic (added tokens, special tokens, <c>tokenize</c>, <c>decode</c>)
/// around a class-specific <see cref="ITokenizerModel"/>. Immutable after construction, so thread-safe.
/// </summary>
internal sealed class SlowTokenizer : IHfTokenizer
{
    private readonly ITokenizerModel _model;
    private readonly AddedTokenSplitter _splitter;
    private readonly Dictionary<string, int> _addedEncoder = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _addedDecoder = [];
    private readonly HashSet<string> _allSpecialTokens = new(StringComparer.Ordinal);
    private readonly HashSet<int> _allSpecialIds = [];
    private readonly HashSet<string> _legacyAddedTokens = new(StringComparer.Ordinal);
    private readonly bool _cleanUpTokenizationSpaces;
    private readonly Dictionary<string, SpecialTokenDeclaration> _declared = new(StringComparer.Ordinal);

    /// <summary>Builds the tokenizer from the model and the folder's side files.</summary>
    /// <param name="model">The class-specific part.</param>
    /// <param name="folder">The side files.</param>
    /// <param name="implicitAddedTokens">Added tokens the class creates itself when the files do not list them (T5's extra ids).</param>
    public SlowTokenizer(ITokenizerModel model, TokenizerFolder folder, IEnumerable<AddedToken>? implicitAddedTokens = null)
    {
        _model = model;
        foreach (var token in folder.AddedTokensDecoder)
        {
            RegisterAdded(token);
        }
        foreach (var token in implicitAddedTokens ?? [])
        {
            if (!_addedEncoder.ContainsKey(token.Content))
            {
                RegisterAdded(token);
            }
        }
        foreach (var (content, id) in folder.AddedTokensFile)
        {
            if (!_addedEncoder.ContainsKey(content))
            {
                RegisterAdded(new AddedToken(content, id, Special: false, LStrip: false, RStrip: false, SingleWord: false));
            }
        }

        // Special tokens, in SPECIAL_TOKENS_ATTRIBUTES order (this is also the order of all_special_tokens).
        var declared = _declared;
        var allSpecial = new List<SpecialTokenDeclaration>();
        foreach (var attribute in TokenizerFolder.SpecialTokenAttributes)
        {
            model.SpecialTokenDefaults.TryGetValue(attribute, out var fallback);
            if (folder.GetSpecialToken(attribute, fallback) is { } declaration)
            {
                declared[attribute] = declaration;
                allSpecial.Add(declaration);
            }
        }
        var additional = folder.GetAdditionalSpecialTokens();
        allSpecial.AddRange(additional);

        // PreTrainedTokenizer.__init__ adds every special token that is not yet an added token.
        int nextId = Math.Max(model.VocabSize, _addedDecoder.Count == 0 ? 0 : _addedDecoder.Keys.Max() + 1);
        foreach (var declaration in allSpecial)
        {
            if (_addedEncoder.ContainsKey(declaration.Content))
            {
                continue;
            }
            int id = model.TryTokenToId(declaration.Content) ?? nextId++;
            RegisterAdded(new AddedToken(declaration.Content, id, Special: true, declaration.LStrip, declaration.RStrip,
                declaration.SingleWord));
        }

        foreach (var declaration in allSpecial)
        {
            if (_allSpecialTokens.Add(declaration.Content))
            {
                _allSpecialIds.Add(ConvertTokenToId(declaration.Content));
            }
        }
        var orderedIds = new List<int>();
        var seenTokens = new HashSet<string>(StringComparer.Ordinal);
        foreach (var declaration in allSpecial)
        {
            if (seenTokens.Add(declaration.Content))
            {
                int id = ConvertTokenToId(declaration.Content);
                if (!orderedIds.Contains(id))
                {
                    orderedIds.Add(id);
                }
            }
        }

        // _decode keeps these apart from the model's detokenization: non-special added tokens, and additional special
        // tokens outside the model vocabulary.
        foreach (var content in _addedEncoder.Keys)
        {
            if (!_allSpecialTokens.Contains(content))
            {
                _legacyAddedTokens.Add(content);
            }
        }
        foreach (var declaration in additional)
        {
            if (ConvertTokenToId(declaration.Content) >= model.VocabSize)
            {
                _legacyAddedTokens.Add(declaration.Content);
            }
        }

        Special = new SpecialTokens(Resolve(declared, "bos_token"), Resolve(declared, "eos_token"),
            Resolve(declared, "unk_token"), Resolve(declared, "pad_token"), orderedIds);
        _splitter = new AddedTokenSplitter(_addedDecoder.Values.OrderBy(t => t.Id));
        _cleanUpTokenizationSpaces = folder.GetBool("clean_up_tokenization_spaces", model.CleanUpTokenizationSpacesDefault);

        int count = model.DistinctTokenCount;
        foreach (var content in _addedEncoder.Keys)
        {
            if (!model.ContainsToken(content))
            {
                count++;
            }
        }
        Count = count;
    }

    /// <inheritdoc />
    public string TokenizerClass => _model.TokenizerClass;

    /// <inheritdoc />
    public int Count { get; }

    /// <inheritdoc />
    public SpecialTokens Special { get; }

    /// <summary>The token of a special-token attribute such as <c>cls_token</c>, or null when the tokenizer has none.</summary>
    public string? SpecialTokenContent(string attribute) =>
        _declared.TryGetValue(attribute, out var declaration) ? declaration.Content : null;

    /// <summary>True when <paramref name="token"/> is one of <c>all_special_tokens</c>.</summary>
    public bool IsSpecialToken(string token) => _allSpecialTokens.Contains(token);

    /// <summary>True when <paramref name="token"/> is an added token (Python: <c>token in added_tokens_encoder</c>).</summary>
    public bool IsAddedToken(string token) => _addedEncoder.ContainsKey(token);

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true, bool asTarget = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = TokenizeToList(text, asTarget);
        var ids = new List<int>(tokens.Count + 2);
        foreach (var token in tokens)
        {
            ids.Add(ConvertTokenToId(token));
        }
        return addSpecialTokens ? _model.BuildInputsWithSpecialTokens(ids, this, asTarget) : ids;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Tokenize(string text, bool asTarget = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TokenizeToList(text, asTarget);
    }

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
    public string? IdToToken(int id) =>
        _addedDecoder.TryGetValue(id, out var added) ? added.Content : _model.IdToToken(id);

    /// <inheritdoc />
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _addedEncoder.TryGetValue(token, out int id) ? id : _model.TryTokenToId(token);
    }

    /// <inheritdoc />
    public bool IsSpecial(int id) => _allSpecialIds.Contains(id);

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false, bool? cleanUpTokenizationSpaces = null)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && _allSpecialIds.Contains(id))
            {
                continue;
            }
            tokens.Add(IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id,
                $"Id {id} is not in the {TokenizerClass} vocabulary (size {Count})."));
        }

        // Added tokens that are not special are emitted verbatim between model-detokenized runs, and the runs are
        // joined with spaces (spaces_between_special_tokens=True), exactly as PreTrainedTokenizer._decode does.
        if (_model.DecodesAllTokens)
        {
            string decoded = _model.TokensToString(tokens, this);
            return (cleanUpTokenizationSpaces ?? _cleanUpTokenizationSpaces) ? TokenizationCleanup.Apply(decoded) : decoded;
        }

        var subTexts = new List<string>();
        var current = new List<string>();
        foreach (var token in tokens)
        {
            if (_legacyAddedTokens.Contains(token))
            {
                if (current.Count > 0)
                {
                    string text = _model.TokensToString(current, this);
                    if (text.Length > 0)
                    {
                        subTexts.Add(text);
                    }
                    current = [];
                }
                subTexts.Add(token);
            }
            else
            {
                current.Add(token);
            }
        }
        if (current.Count > 0)
        {
            subTexts.Add(_model.TokensToString(current, this));
        }
        string joined = string.Join(' ', subTexts);
        return (cleanUpTokenizationSpaces ?? _cleanUpTokenizationSpaces) ? TokenizationCleanup.Apply(joined) : joined;
    }

    /// <summary>Python's <c>convert_tokens_to_ids</c> for one token: added tokens first, then the model, else the unknown id.</summary>
    public int ConvertTokenToId(string token)
    {
        if (_addedEncoder.TryGetValue(token, out int id))
        {
            return id;
        }
        if (_model.TryTokenToId(token) is { } modelId)
        {
            return modelId;
        }
        return Special?.Unk?.Id ?? throw new InvalidOperationException(
            $"Token '{token}' is not in the {TokenizerClass} vocabulary and the tokenizer has no unknown token.");
    }

    private List<string> TokenizeToList(string text, bool asTarget)
    {
        var output = new List<string>();
        foreach (var part in _splitter.Split(_model.PrepareForTokenization(text)))
        {
            if (_splitter.IsAddedToken(part))
            {
                output.Add(part);
            }
            else
            {
                _model.Tokenize(part, asTarget, output);
            }
        }
        return output;
    }

    private void RegisterAdded(AddedToken token)
    {
        _addedDecoder[token.Id] = token;
        _addedEncoder[token.Content] = token.Id;
    }

    private TokenAndId? Resolve(Dictionary<string, SpecialTokenDeclaration> declared, string attribute) =>
        declared.TryGetValue(attribute, out var declaration)
            ? new TokenAndId(declaration.Content, ConvertTokenToId(declaration.Content))
            : null;
}
