using System.Text;
using System.Text.Json;
using InseqBridge.Tokenizers.SentencePiece;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>
/// The parts of a <c>tokenizer.json</c> (Hugging Face's fast-tokenizer format). Every component type the Rust
/// library serializes for text tokenizers is read; a type it does not know raises a
/// <see cref="TokenizerLoadException"/> naming the type and the file.
/// </summary>
internal sealed class TokenizerJson
{
    private readonly string _path;

    private TokenizerJson(string path) => _path = path;

    public Normalizer? Normalizer { get; private set; }

    public PreTokenizer? PreTokenizer { get; private set; }

    public FastModel Model { get; private set; } = null!;

    public PostProcessor? PostProcessor { get; private set; }

    public Decoder? Decoder { get; private set; }

    public AddedVocabulary Added { get; private set; } = null!;

    /// <summary>Reads <paramref name="path"/>.</summary>
    public static TokenizerJson Load(string path)
    {
        JsonDocument doc;
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
            {
                throw new TokenizerLoadException($"'{path}' is not valid UTF-8 text: re-download it, or save it as UTF-8.");
            }

            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException($"'{path}' is not valid JSON: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new TokenizerLoadException($"'{path}' cannot be read: {e.Message}", e);
        }
        using (doc)
        {
            var json = new TokenizerJson(path);
            try
            {
                json.Build(doc.RootElement);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException
                                          or ArgumentException or IndexOutOfRangeException or InvalidDataException)
            {
                throw new TokenizerLoadException($"'{path}' does not have the expected tokenizer.json layout: {e.Message}", e);
            }
            return json;
        }
    }

    private void Build(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException("the file must hold a JSON object");
        }
        Normalizer = Optional(root, "normalizer") is { } n ? ParseNormalizer(n) : null;
        PreTokenizer = Optional(root, "pre_tokenizer") is { } p ? ParsePreTokenizer(p) : null;
        Model = ParseModel(Optional(root, "model") ?? throw new InvalidOperationException("no 'model'"));
        Decoder = Optional(root, "decoder") is { } d ? ParseDecoder(d) : null;
        var added = new List<FastAddedToken>();
        if (Optional(root, "added_tokens") is { ValueKind: JsonValueKind.Array } tokens)
        {
            foreach (var token in tokens.EnumerateArray())
            {
                added.Add(new FastAddedToken(Str(token, "content"), Flag(token, "special", false), Flag(token, "lstrip", false),
                    Flag(token, "rstrip", false), Flag(token, "single_word", false), Flag(token, "normalized", true)));
            }
        }
        Added = new AddedVocabulary(added, Model, Normalizer);
        PostProcessor = Optional(root, "post_processor") is { } post ? ParsePostProcessor(post) : null;
    }

    private static JsonElement? Optional(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string Str(JsonElement element, string name) =>
        element.GetProperty(name).GetString() ?? throw new InvalidOperationException($"'{name}' must be a string");

    private static string? OptStr(JsonElement element, string name) =>
        Optional(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    private static bool Flag(JsonElement element, string name, bool fallback) =>
        element.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean() : fallback;

    private static string TypeOf(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "";

    private TokenizerLoadException Unknown(string component, string type, string supported) =>
        new($"'{_path}' uses the {component} type '{type}', which InseqBridge does not implement (supported: " +
            $"{supported}). Use the slow tokenizer files instead (--tokenizer slow), or report the file.");

    private static char OneChar(string value, string name)
    {
        var points = UnicodeText.CodePoints(value);
        if (points.Count != 1 || points[0] > 0xFFFF)
        {
            throw new InvalidOperationException($"'{name}' must be a single character");
        }
        return (char)points[0];
    }

    private static SplitPattern Pattern(JsonElement element)
    {
        var pattern = element.GetProperty("pattern");
        if (pattern.TryGetProperty("String", out var literal))
        {
            return SplitPattern.Literal(literal.GetString() ?? "");
        }
        if (pattern.TryGetProperty("Regex", out var regex))
        {
            return SplitPattern.FromRegex(OnigSyntax.ToDotNet(regex.GetString() ?? ""));
        }
        throw new InvalidOperationException("'pattern' must hold 'String' or 'Regex'");
    }

    private static SplitBehavior Behavior(JsonElement element, SplitBehavior fallback)
    {
        string? value = OptStr(element, "behavior");
        return value switch
        {
            null => fallback,
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            _ => throw new InvalidOperationException($"unknown split behavior '{value}'"),
        };
    }

    private Normalizer ParseNormalizer(JsonElement e)
    {
        string type = TypeOf(e);
        switch (type)
        {
            case "Sequence":
                return new SequenceNormalizer([.. e.GetProperty("normalizers").EnumerateArray().Select(ParseNormalizer)]);
            case "NFC":
                return new UnicodeNormalizer(NormalizationForm.FormC);
            case "NFD":
                return new UnicodeNormalizer(NormalizationForm.FormD);
            case "NFKC":
                return new UnicodeNormalizer(NormalizationForm.FormKC);
            case "NFKD":
                return new UnicodeNormalizer(NormalizationForm.FormKD);
            case "Lowercase":
                return new LowercaseNormalizer();
            case "Strip":
                return new StripNormalizer(Flag(e, "strip_left", true), Flag(e, "strip_right", true));
            case "StripAccents":
                return new StripAccentsNormalizer();
            case "Replace":
                return new ReplaceNormalizer(Pattern(e), Str(e, "content"));
            case "Prepend":
                return new PrependNormalizer(Str(e, "prepend"));
            case "ByteLevel":
                return new ByteLevelNormalizer();
            case "Nmt":
                return new NmtNormalizer();
            case "BertNormalizer":
                bool lowercase = Flag(e, "lowercase", true);
                return new BertNormalizer(Flag(e, "clean_text", true), Flag(e, "handle_chinese_chars", true),
                    Flag(e, "strip_accents", lowercase), lowercase);
            case "Precompiled":
                string? blob = OptStr(e, "precompiled_charsmap");
                return blob is null or ""
                    ? new SequenceNormalizer([])
                    : new PrecompiledNormalizer(PrecompiledCharsMap.Parse(Convert.FromBase64String(blob)));
            default:
                throw Unknown("normalizer", type,
                    "Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, Replace, Prepend, ByteLevel, Nmt, BertNormalizer, Precompiled");
        }
    }

    private PreTokenizer ParsePreTokenizer(JsonElement e)
    {
        string type = TypeOf(e);
        switch (type)
        {
            case "Sequence":
                return new SequencePreTokenizer([.. e.GetProperty("pretokenizers").EnumerateArray().Select(ParsePreTokenizer)]);
            case "ByteLevel":
                return new ByteLevelPreTokenizer(Flag(e, "add_prefix_space", true), Flag(e, "use_regex", true));
            case "Split":
                return new PatternSplitPreTokenizer(Pattern(e), Behavior(e, SplitBehavior.Removed), Flag(e, "invert", false));
            case "Metaspace":
                return new MetaspacePreTokenizer(OneChar(Str(e, "replacement"), "replacement"), Scheme(e), Flag(e, "split", true));
            case "Whitespace":
                return new WhitespacePreTokenizer();
            case "WhitespaceSplit":
                return new CharPredicatePreTokenizer(UnicodeText.IsWhitespace, SplitBehavior.Removed);
            case "BertPreTokenizer":
                return new BertPreTokenizer();
            case "Punctuation":
                return new CharPredicatePreTokenizer(UnicodeText.IsPunctuation, Behavior(e, SplitBehavior.Isolated));
            case "Digits":
                return new CharPredicatePreTokenizer(UnicodeText.IsNumeric,
                    Flag(e, "individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous);
            case "CharDelimiterSplit":
                char delimiter = OneChar(Str(e, "delimiter"), "delimiter");
                return new CharPredicatePreTokenizer(c => c == delimiter, SplitBehavior.Removed);
            case "FixedLength":
                return new FixedLengthPreTokenizer(Optional(e, "length")?.GetInt32() ?? 5);
            default:
                throw Unknown("pre-tokenizer", type,
                    "Sequence, ByteLevel, Split, Metaspace, Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Digits, CharDelimiterSplit, FixedLength");
        }
    }

    private static PrependScheme Scheme(JsonElement e)
    {
        string? scheme = OptStr(e, "prepend_scheme");
        var parsed = scheme switch
        {
            null => PrependScheme.Always,
            "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            _ => throw new InvalidOperationException($"unknown prepend_scheme '{scheme}'"),
        };
        return e.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.False ? PrependScheme.Never : parsed;
    }

    private FastModel ParseModel(JsonElement e)
    {
        string type = TypeOf(e);
        if (type.Length == 0)
        {
            // Older files omit the model type; the Rust library then tries the layouts in turn.
            type = e.TryGetProperty("merges", out _) ? "BPE"
                : e.TryGetProperty("vocab", out var v) && v.ValueKind == JsonValueKind.Array ? "Unigram"
                : e.TryGetProperty("continuing_subword_prefix", out _) ? "WordPiece" : "WordLevel";
        }
        try
        {
            switch (type)
            {
                case "BPE":
                    return new BpeModel(Vocab(e), Merges(e), OptStr(e, "unk_token"), OptStr(e, "continuing_subword_prefix"),
                        OptStr(e, "end_of_word_suffix"), Flag(e, "fuse_unk", false), Flag(e, "byte_fallback", false),
                        Flag(e, "ignore_merges", false));
                case "WordPiece":
                    return new WordPieceModel(Vocab(e), OptStr(e, "unk_token") ?? "[UNK]",
                        OptStr(e, "continuing_subword_prefix") ?? "##", Optional(e, "max_input_chars_per_word")?.GetInt32() ?? 100);
                case "WordLevel":
                    return new WordLevelModel(Vocab(e), OptStr(e, "unk_token") ?? "<unk>");
                case "Unigram":
                    var pieces = new List<(string, double)>();
                    foreach (var item in e.GetProperty("vocab").EnumerateArray())
                    {
                        pieces.Add((item[0].GetString() ?? "", item[1].GetDouble()));
                    }
                    int? unkId = Optional(e, "unk_id")?.GetInt32();
                    if (unkId is { } u && (u < 0 || u >= pieces.Count))
                    {
                        throw new InvalidOperationException($"unk_id {u} is outside the {pieces.Count}-entry vocabulary");
                    }
                    return new UnigramModel([.. pieces], unkId, Flag(e, "byte_fallback", false));
                default:
                    throw Unknown("model", type, "BPE, Unigram, WordPiece, WordLevel");
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or KeyNotFoundException or FormatException
                                       or IndexOutOfRangeException)
        {
            throw new TokenizerLoadException($"'{_path}': the {type} model is malformed: {ex.Message}", ex);
        }
    }

    private static Dictionary<string, int> Vocab(JsonElement e)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in e.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }
        return vocab;
    }

    private static List<(string, string)> Merges(JsonElement e)
    {
        var merges = new List<(string, string)>();
        foreach (var merge in e.GetProperty("merges").EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
            {
                merges.Add((merge[0].GetString()!, merge[1].GetString()!));
                continue;
            }
            string text = merge.GetString() ?? "";
            int space = text.IndexOf(' ', StringComparison.Ordinal);
            if (space < 0 || text.IndexOf(' ', space + 1) >= 0)
            {
                throw new InvalidOperationException($"merge '{text}' is not two space-separated symbols");
            }
            merges.Add((text[..space], text[(space + 1)..]));
        }
        return merges;
    }

    private Decoder ParseDecoder(JsonElement e)
    {
        string type = TypeOf(e);
        switch (type)
        {
            case "Sequence":
                return new SequenceDecoder([.. e.GetProperty("decoders").EnumerateArray().Select(ParseDecoder)]);
            case "ByteLevel":
                return new ByteLevelDecoder();
            case "Metaspace":
                return new MetaspaceDecoder(OneChar(Str(e, "replacement"), "replacement"), Scheme(e));
            case "WordPiece":
                return new WordPieceDecoder(OptStr(e, "prefix") ?? "##", Flag(e, "cleanup", true));
            case "BPEDecoder":
                return new BpeSuffixDecoder(OptStr(e, "suffix") ?? "</w>");
            case "CTC":
                return new CtcDecoder(OptStr(e, "pad_token") ?? "<pad>", OptStr(e, "word_delimiter_token") ?? "|", Flag(e, "cleanup", true));
            case "Replace":
                return new ReplaceDecoder(Pattern(e), Str(e, "content"));
            case "ByteFallback":
                return new ByteFallbackDecoder();
            case "Fuse":
                return new FuseDecoder();
            case "Strip":
                return new StripDecoder(OneChar(Str(e, "content"), "content"), Optional(e, "start")?.GetInt32() ?? 0,
                    Optional(e, "stop")?.GetInt32() ?? 0);
            default:
                throw Unknown("decoder", type, "Sequence, ByteLevel, Metaspace, WordPiece, BPEDecoder, CTC, Replace, ByteFallback, Fuse, Strip");
        }
    }

    private PostProcessor ParsePostProcessor(JsonElement e)
    {
        string type = TypeOf(e);
        switch (type)
        {
            case "ByteLevel":
                return new IdentityPostProcessor();
            case "RobertaProcessing":
            case "BertProcessing":
                var cls = e.GetProperty("cls");
                var sep = e.GetProperty("sep");
                return new WrapPostProcessor(new FastToken(cls[1].GetInt32(), cls[0].GetString()!),
                    new FastToken(sep[1].GetInt32(), sep[0].GetString()!));
            case "TemplateProcessing":
                var specials = new Dictionary<string, FastToken[]>(StringComparer.Ordinal);
                foreach (var entry in e.GetProperty("special_tokens").EnumerateObject())
                {
                    var ids = entry.Value.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
                    var strings = entry.Value.GetProperty("tokens").EnumerateArray().Select(x => x.GetString()!).ToArray();
                    if (ids.Length != strings.Length)
                    {
                        throw new InvalidOperationException($"special token '{entry.Name}' has {ids.Length} ids but {strings.Length} tokens");
                    }
                    specials[entry.Name] = [.. ids.Zip(strings, (i, s) => new FastToken(i, s))];
                }
                var single = new List<FastToken[]?>();
                foreach (var item in e.GetProperty("single").EnumerateArray())
                {
                    if (item.TryGetProperty("SpecialToken", out var special))
                    {
                        string id = Str(special, "id");
                        single.Add(specials.TryGetValue(id, out var toks) ? toks
                            : throw new InvalidOperationException($"template special token '{id}' is missing from special_tokens"));
                    }
                    else if (item.TryGetProperty("Sequence", out _))
                    {
                        single.Add(null);
                    }
                }
                return new TemplatePostProcessor(single);
            case "Sequence":
                return new SequencePostProcessor([.. e.GetProperty("processors").EnumerateArray().Select(ParsePostProcessor)]);
            default:
                throw Unknown("post-processor", type, "TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence");
        }
    }
}
