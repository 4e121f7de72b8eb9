using InseqBridge.Tokenizers.Common;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>Builds a <see cref="FastTokenizer"/> from a folder's <c>tokenizer.json</c> and <c>tokenizer_config.json</c>
/// the way transformers' fast tokenizer classes do.</summary>
internal static class FastTokenizerLoader
{
    // The fast classes that rebuild the post-processor from add_bos_token/add_eos_token (update_post_processor),
    // with their default special tokens and flags.
    private static readonly Dictionary<string, (string Bos, string Eos, string Unk)> TemplateClasses = new(StringComparer.Ordinal)
    {
        ["LlamaTokenizer"] = ("<s>", "</s>", "<unk>"),
        ["CodeLlamaTokenizer"] = ("<s>", "</s>", "<unk>"),
        ["GemmaTokenizer"] = ("<bos>", "<eos>", "<unk>"),
    };

    /// <summary>A <c>tokenizer.json</c> exactly as the Rust library runs it: no transformers rules, no clean-up.</summary>
    public static FastTokenizer LoadFile(string path)
    {
        var json = TokenizerJson.Load(path);
        return new FastTokenizer(json, "PreTrainedTokenizerFast", json.PostProcessor, cleanUpTokenizationSpaces: false, folder: null);
    }

    public static FastTokenizer Load(TokenizerFolder folder, string? className)
    {
        var json = TokenizerJson.Load(folder.PathOf("tokenizer.json"));
        string baseClass = className is null ? "PreTrainedTokenizer"
            : className.EndsWith("Fast", StringComparison.Ordinal) ? className[..^4] : className;
        var postProcessor = json.PostProcessor;
        Dictionary<string, string>? defaults = null;
        if (TemplateClasses.TryGetValue(baseClass, out var specials))
        {
            defaults = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["bos_token"] = specials.Bos,
                ["eos_token"] = specials.Eos,
                ["unk_token"] = specials.Unk,
            };
            postProcessor = RebuildTemplate(json, folder, defaults);
        }
        // transformers >= 4.45 defaults clean_up_tokenization_spaces to False; saved configs usually set it.
        bool cleanUp = folder.GetBool("clean_up_tokenization_spaces", false);
        return new FastTokenizer(json, baseClass + "Fast", postProcessor, cleanUp, folder, defaults);
    }

    // LlamaTokenizerFast.update_post_processor: "<bos>:0 $A:0 <eos>:0" with each special token only when its flag
    // (add_bos_token default True, add_eos_token default False) is set; ids are looked up in the vocabulary.
    private static TemplatePostProcessor RebuildTemplate(TokenizerJson json, TokenizerFolder folder,
        Dictionary<string, string> defaults)
    {
        bool addBos = folder.GetBool("add_bos_token", true);
        bool addEos = folder.GetBool("add_eos_token", false);
        var single = new List<FastToken[]?>();
        if (addBos)
        {
            single.Add([Special(json, folder, "bos_token", defaults)]);
        }
        single.Add(null);
        if (addEos)
        {
            single.Add([Special(json, folder, "eos_token", defaults)]);
        }
        return new TemplatePostProcessor(single);
    }

    private static FastToken Special(TokenizerJson json, TokenizerFolder folder, string attribute, Dictionary<string, string> defaults)
    {
        string? content = folder.GetSpecialToken(attribute, defaults[attribute])?.Content;
        if (content is null)
        {
            throw new TokenizerLoadException(
                $"'{folder.PathOf("tokenizer_config.json")}' sets add_{attribute} but {attribute} is null; set {attribute} or add_{attribute}=false.");
        }
        int? id = json.Added.TokenToId(content) ?? json.Model.TokenToId(content);
        if (id is null)
        {
            string? unk = folder.GetSpecialToken("unk_token", defaults["unk_token"])?.Content;
            id = unk is null ? null : json.Added.TokenToId(unk) ?? json.Model.TokenToId(unk);
        }
        return new FastToken(id ?? throw new TokenizerLoadException(
            $"{attribute} '{content}' of '{folder.Directory}' is not in tokenizer.json's vocabulary."), content);
    }
}
