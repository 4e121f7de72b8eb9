using System.Text.Json;

namespace InseqBridge.Tokenizers.Common;

/// <summary>
/// The JSON side files of a Hugging Face tokenizer folder: <c>tokenizer_config.json</c>,
/// <c>special_tokens_map.json</c> and <c>added_tokens.json</c>. All are optional; malformed ones raise a
/// <see cref="TokenizerLoadException"/> naming the file.
/// </summary>
internal sealed class TokenizerFolder
{
    /// <summary>The special-token attributes in Hugging Face's <c>SPECIAL_TOKENS_ATTRIBUTES</c> order.</summary>
    public static readonly string[] SpecialTokenAttributes =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private readonly JsonElement? _config;
    private readonly JsonElement? _specialTokensMap;

    private TokenizerFolder(string directory, JsonElement? config, JsonElement? specialTokensMap,
        IReadOnlyList<AddedToken> addedTokensDecoder, IReadOnlyDictionary<string, int> addedTokensFile)
    {
        Directory = directory;
        _config = config;
        _specialTokensMap = specialTokensMap;
        AddedTokensDecoder = addedTokensDecoder;
        AddedTokensFile = addedTokensFile;
    }

    /// <summary>The folder.</summary>
    public string Directory { get; }

    /// <summary><c>added_tokens_decoder</c> of <c>tokenizer_config.json</c>, in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokensDecoder { get; }

    /// <summary>The content of <c>added_tokens.json</c> (token → id).</summary>
    public IReadOnlyDictionary<string, int> AddedTokensFile { get; }

    /// <summary><c>tokenizer_class</c> from <c>tokenizer_config.json</c>, or null.</summary>
    public string? TokenizerClass => GetString("tokenizer_class");

    /// <summary><c>model_type</c> from the folder's <c>config.json</c> (what AutoTokenizer falls back on), or null.</summary>
    public string? ModelType
    {
        get
        {
            try
            {
                return ReadJsonIfPresent(Path.Combine(Directory, "config.json")) is { } config &&
                       config.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String
                    ? type.GetString()
                    : null;
            }
            catch (TokenizerLoadException)
            {
                return null;
            }
        }
    }

    /// <summary>True when <c>tokenizer_config.json</c> sets <paramref name="name"/> to a non-null value.</summary>
    public bool HasSetting(string name) =>
        _config is { } config && config.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Full path of a file in the folder.</summary>
    public string PathOf(string fileName) => Path.Combine(Directory, fileName);

    /// <summary>True when the folder has <paramref name="fileName"/>.</summary>
    public bool Has(string fileName) => File.Exists(PathOf(fileName));

    /// <summary>Reads the side files of <paramref name="directory"/>.</summary>
    public static TokenizerFolder Read(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new TokenizerLoadException($"Tokenizer folder '{directory}' does not exist.");
        }
        var config = ReadJsonIfPresent(Path.Combine(directory, "tokenizer_config.json"));
        var map = ReadJsonIfPresent(Path.Combine(directory, "special_tokens_map.json"));
        var decoder = ReadAddedTokensDecoder(config, Path.Combine(directory, "tokenizer_config.json"));
        var addedFile = ReadAddedTokensFile(Path.Combine(directory, "added_tokens.json"));
        return new TokenizerFolder(directory, config, map, decoder, addedFile);
    }

    /// <summary>A boolean setting of <c>tokenizer_config.json</c>.</summary>
    public bool GetBool(string name, bool fallback)
    {
        if (_config is { } config && config.TryGetProperty(name, out var value))
        {
            if (value.ValueKind == JsonValueKind.True)
            {
                return true;
            }
            if (value.ValueKind == JsonValueKind.False)
            {
                return false;
            }
        }
        return fallback;
    }

    /// <summary>An integer setting of <c>tokenizer_config.json</c>.</summary>
    public int GetInt(string name, int fallback)
    {
        if (_config is { } config && config.TryGetProperty(name, out var value) &&
            value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int result))
        {
            return result;
        }
        return fallback;
    }

    /// <summary>A string setting of <c>tokenizer_config.json</c>.</summary>
    public string? GetString(string name)
    {
        if (_config is { } config && config.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }
        return null;
    }

    /// <summary>
    /// A special token attribute (e.g. <c>eos_token</c>): from <c>tokenizer_config.json</c>, else
    /// <c>special_tokens_map.json</c>, else <paramref name="fallback"/>. An explicit JSON null means "none".
    /// </summary>
    public SpecialTokenDeclaration? GetSpecialToken(string attribute, string? fallback)
    {
        foreach (var source in new[] { _config, _specialTokensMap })
        {
            if (source is { } element && element.TryGetProperty(attribute, out var value))
            {
                return value.ValueKind == JsonValueKind.Null ? null : ParseDeclaration(value, attribute);
            }
        }
        return fallback is null ? null : new SpecialTokenDeclaration(fallback);
    }

    /// <summary><c>additional_special_tokens</c> from the config, else the special tokens map.</summary>
    public IReadOnlyList<SpecialTokenDeclaration> GetAdditionalSpecialTokens()
    {
        foreach (var source in new[] { _config, _specialTokensMap })
        {
            if (source is { } element && element.TryGetProperty("additional_special_tokens", out var value) &&
                value.ValueKind == JsonValueKind.Array)
            {
                var list = new List<SpecialTokenDeclaration>();
                foreach (var item in value.EnumerateArray())
                {
                    if (ParseDeclaration(item, "additional_special_tokens") is { } declaration)
                    {
                        list.Add(declaration);
                    }
                }
                return list;
            }
        }
        return [];
    }

    private SpecialTokenDeclaration? ParseDeclaration(JsonElement value, string attribute)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return new SpecialTokenDeclaration(value.GetString()!);
            case JsonValueKind.Object when value.TryGetProperty("content", out var content) &&
                                          content.ValueKind == JsonValueKind.String:
                return new SpecialTokenDeclaration(content.GetString()!, Flag(value, "lstrip"), Flag(value, "rstrip"),
                    Flag(value, "single_word"));
            default:
                throw new TokenizerLoadException(
                    $"'{attribute}' in the tokenizer files of '{Directory}' must be a string or an object with a " +
                    $"'content' string, not {value.ValueKind}.");
        }
    }

    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static JsonElement? ReadJsonIfPresent(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            byte[] bytes = File.ReadAllBytes(path);
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
            {
                throw new TokenizerLoadException($"'{path}' is not valid UTF-8 text: re-download it, or save it as UTF-8.");
            }

            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerLoadException($"'{path}' must hold a JSON object, not {document.RootElement.ValueKind}.");
            }
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException($"'{path}' is not valid JSON: {e.Message} Re-save the tokenizer with save_pretrained.", e);
        }
    }

    private static List<AddedToken> ReadAddedTokensDecoder(JsonElement? config, string path)
    {
        var tokens = new List<AddedToken>();
        if (config is not { } root || !root.TryGetProperty("added_tokens_decoder", out var decoder) ||
            decoder.ValueKind != JsonValueKind.Object)
        {
            return tokens;
        }
        foreach (var entry in decoder.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out int id) || entry.Value.ValueKind != JsonValueKind.Object ||
                !entry.Value.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            {
                throw new TokenizerLoadException(
                    $"'{path}': added_tokens_decoder entry '{entry.Name}' must map an integer id to an object with a 'content' string.");
            }
            tokens.Add(new AddedToken(content.GetString()!, id, Flag(entry.Value, "special"), Flag(entry.Value, "lstrip"),
                Flag(entry.Value, "rstrip"), Flag(entry.Value, "single_word")));
        }
        return tokens;
    }

    private static Dictionary<string, int> ReadAddedTokensFile(string path) =>
        File.Exists(path) ? JsonVocabulary.Read(path) : new Dictionary<string, int>(StringComparer.Ordinal);
}
