using System.Text;
using InseqBridge.Tokenizers.Common;
using InseqBridge.Tokenizers.SentencePiece;

namespace InseqBridge.Tokenizers.Models;

/// <summary>
/// <c>M2M100Tokenizer</c>: SentencePiece pieces (<c>sentencepiece.bpe.model</c>) mapped to ids through the
/// fairseq-style <c>vocab.json</c> (pieces it lacks become <c>&lt;unk&gt;</c>), then the language-code tokens
/// <c>__xx__</c> numbered after the vocabulary in the order of the <c>language_codes</c> list. A sequence is
/// <c>[__src__] ids [&lt;/s&gt;]</c>, and <c>[__tgt__] ids [&lt;/s&gt;]</c> in target mode. The language tokens are
/// neither added nor special tokens (transformers' own check never adds them), so a <c>__fr__</c> written in a
/// text is segmented like any other text, and decoding keeps them.
/// </summary>
internal sealed class M2M100TokenizerModel : ITokenizerModel
{
    private static readonly Dictionary<string, string> Defaults = new()
    {
        ["bos_token"] = "<s>",
        ["eos_token"] = "</s>",
        ["sep_token"] = "</s>",
        ["pad_token"] = "<pad>",
        ["unk_token"] = "<unk>",
    };

    private static readonly string[] M2M100Codes =
    [
        "af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy", "da", "de", "el", "en",
        "es", "et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu", "ha", "he", "hi", "hr", "ht", "hu", "hy", "id",
        "ig", "ilo", "is", "it", "ja", "jv", "ka", "kk", "km", "kn", "ko", "lb", "lg", "ln", "lo", "lt", "lv", "mg", "mk",
        "ml", "mn", "mr", "ms", "my", "ne", "nl", "no", "ns", "oc", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sd", "si",
        "sk", "sl", "so", "sq", "sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr", "uk", "ur", "uz", "vi", "wo",
        "xh", "yi", "yo", "zh", "zu",
    ];

    private static readonly string[] Wmt21Codes = ["en", "ha", "is", "ja", "cs", "ru", "zh", "de"];

    private readonly SentencePieceProcessor _processor;
    private readonly Dictionary<string, int> _encoder;
    private readonly Dictionary<int, string> _decoder;
    private readonly Dictionary<string, int> _languageTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _languageIds = [];
    private readonly string _sourceLanguage;
    private readonly string? _targetLanguage;
    private readonly string _configPath;

    private M2M100TokenizerModel(SentencePieceProcessor processor, Dictionary<string, int> encoder, string[] codes,
        string sourceLanguage, string? targetLanguage, string configPath)
    {
        _processor = processor;
        _encoder = encoder;
        _decoder = new Dictionary<int, string>(encoder.Count);
        foreach (var (token, id) in encoder)
        {
            _decoder[id] = token;
        }
        for (int i = 0; i < codes.Length; i++)
        {
            _languageTokens[$"__{codes[i]}__"] = encoder.Count + i;
            _languageIds[encoder.Count + i] = $"__{codes[i]}__";
        }
        _sourceLanguage = sourceLanguage;
        _targetLanguage = targetLanguage;
        _configPath = configPath;
    }

    /// <summary>Loads the M2M100 tokenizer of <paramref name="folder"/>.</summary>
    public static SlowTokenizer CreateTokenizer(TokenizerFolder folder)
    {
        string configPath = folder.PathOf("tokenizer_config.json");
        string codesName = folder.GetString("language_codes") ?? "m2m100";
        string[] codes = codesName switch
        {
            "m2m100" => M2M100Codes,
            "wmt21" => Wmt21Codes,
            _ => throw new TokenizerLoadException(
                $"'{configPath}' sets language_codes='{codesName}'; M2M100Tokenizer knows 'm2m100' and 'wmt21'."),
        };
        string source = folder.GetString("src_lang") ?? "en";
        string? target = folder.GetString("tgt_lang");
        foreach (var language in new[] { source, target })
        {
            if (language is not null && !codes.Contains(language))
            {
                throw new TokenizerLoadException(
                    $"'{configPath}' names language '{language}', which is not one of the {codesName} language codes ({string.Join(", ", codes)}).");
            }
        }
        var model = new M2M100TokenizerModel(SentencePieceProcessor.Load(folder.PathOf("sentencepiece.bpe.model")),
            JsonVocabulary.Read(folder.PathOf("vocab.json")), codes, source, target, configPath);
        return new SlowTokenizer(model, folder);
    }

    /// <inheritdoc />
    public string TokenizerClass => "M2M100Tokenizer";

    /// <inheritdoc />
    public int VocabSize => _encoder.Count;

    /// <inheritdoc />
    public int DistinctTokenCount => _encoder.Count;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SpecialTokenDefaults => Defaults;

    /// <inheritdoc />
    public bool ContainsToken(string token) => _encoder.ContainsKey(token);

    /// <inheritdoc />
    public string PrepareForTokenization(string text) => text;

    /// <inheritdoc />
    public void Tokenize(string text, bool asTarget, List<string> output) =>
        output.AddRange(_processor.EncodeAsPieces(text));

    /// <inheritdoc />
    public int? TryTokenToId(string token) =>
        _languageTokens.TryGetValue(token, out int language) ? language
        : _encoder.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc />
    /// <remarks>Like transformers, any id outside the vocabulary and the language codes reads as the unknown token
    /// (the model's embedding matrix also has rows for made-up words that no tokenizer entry names).</remarks>
    public string? IdToToken(int id) =>
        id < 0 ? null
        : _languageIds.TryGetValue(id, out var language) ? language
        : _decoder.TryGetValue(id, out var token) ? token : Defaults["unk_token"];

    /// <inheritdoc />
    public string TokensToString(List<string> tokens, SlowTokenizer owner)
    {
        // Special tokens bypass SentencePiece and are glued to the text around them; the result is stripped.
        var current = new List<string>();
        var text = new StringBuilder();
        foreach (var token in tokens)
        {
            if (owner.IsSpecialToken(token))
            {
                text.Append(_processor.DecodePieces(current)).Append(token);
                current.Clear();
            }
            else
            {
                current.Add(token);
            }
        }
        text.Append(_processor.DecodePieces(current));
        return PythonText.Strip(text.ToString());
    }

    /// <inheritdoc />
    public List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner) =>
        BuildInputsWithSpecialTokens(ids, owner, asTarget: false);

    /// <inheritdoc />
    public List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner, bool asTarget)
    {
        string language = asTarget
            ? _targetLanguage ?? throw new TokenizerLoadException(
                $"'{_configPath}' has no tgt_lang: M2M100Tokenizer needs the target language to encode target text. Add \"tgt_lang\": \"xx\" to it.")
            : _sourceLanguage;
        int eos = owner.ConvertTokenToId(owner.SpecialTokenContent("eos_token") ?? "</s>");
        return [_languageTokens[$"__{language}__"], .. ids, eos];
    }
}
