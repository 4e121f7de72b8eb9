using InseqBridge.Tokenizers.ByteLevel;
using InseqBridge.Tokenizers.Common;
using InseqBridge.Tokenizers.Fast;
using InseqBridge.Tokenizers.Models;

namespace InseqBridge.Tokenizers;

/// <summary>Loads the Hugging Face tokenizer saved in a checkpoint folder.</summary>
public static class HfTokenizer
{
    /// <summary>
    /// Loads the tokenizer of <paramref name="directory"/> as <c>AutoTokenizer</c> does: the fast tokenizer
    /// (<c>tokenizer.json</c>) when the folder has one, else the slow files.
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <returns>An immutable, thread-safe tokenizer.</returns>
    /// <exception cref="TokenizerLoadException">Files are missing or malformed, or the class is not supported.</exception>
    public static IHfTokenizer Load(string directory) => Load(directory, TokenizerKind.Auto);

    /// <summary>
    /// Loads the tokenizer of <paramref name="directory"/>. The class comes from <c>tokenizer_config.json</c>'s
    /// <c>tokenizer_class</c> when present, else from <c>config.json</c>'s <c>model_type</c> (as AutoTokenizer does),
    /// else from the files. <see cref="TokenizerKind.Fast"/> reads <c>tokenizer.json</c>;
    /// <see cref="TokenizerKind.Slow"/> reads <c>vocab.json</c> + <c>merges.txt</c> (GPT-2/BART byte-level BPE),
    /// <c>source.spm</c> (Marian) or <c>spiece.model</c> (T5).
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="kind">Fast, slow, or the fast one when the folder has it.</param>
    /// <returns>An immutable, thread-safe tokenizer.</returns>
    /// <exception cref="TokenizerLoadException">Files are missing or malformed, or the class is not supported.</exception>
    public static IHfTokenizer Load(string directory, TokenizerKind kind)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var folder = TokenizerFolder.Read(directory);
        string? declaredClass = NormalizeClassName(folder.TokenizerClass);
        string? modelClass = declaredClass ?? ClassOfModelType(folder.ModelType);
        bool hasFast = folder.Has("tokenizer.json");
        if (kind == TokenizerKind.Fast || (kind == TokenizerKind.Auto && hasFast))
        {
            if (!hasFast)
            {
                throw new TokenizerLoadException(
                    $"'{folder.Directory}' has no tokenizer.json (the fast tokenizer); load its slow files instead (--tokenizer slow).");
            }
            return FastTokenizerLoader.Load(folder, modelClass);
        }
        return LoadSlow(folder, modelClass ?? GuessClass(folder));
    }

    private static IHfTokenizer LoadSlow(TokenizerFolder folder, string tokenizerClass)
    {
        switch (tokenizerClass)
        {
            case "GPT2Tokenizer" when HasAll(folder, "vocab.json", "merges.txt"):
                return new SlowTokenizer(ByteLevelBpeModel.Load(folder, isBart: false), folder);
            case "BartTokenizer" when HasAll(folder, "vocab.json", "merges.txt"):
                return new SlowTokenizer(ByteLevelBpeModel.Load(folder, isBart: true), folder);
            case "MarianTokenizer" when HasAll(folder, "source.spm", "target.spm", "vocab.json"):
                return MarianTokenizerModel.CreateTokenizer(folder);
            case "T5Tokenizer" when HasAll(folder, "spiece.model"):
                return T5TokenizerModel.CreateTokenizer(folder);
            case "CodeGenTokenizer" when HasAll(folder, "vocab.json", "merges.txt"):
                return new SlowTokenizer(ByteLevelBpeModel.Load(folder, isBart: false, className: "CodeGenTokenizer"), folder);
            case "GemmaTokenizer" when HasAll(folder, "tokenizer.model"):
                return GemmaTokenizerModel.CreateTokenizer(folder);
            case "M2M100Tokenizer" when HasAll(folder, "sentencepiece.bpe.model", "vocab.json"):
                return M2M100TokenizerModel.CreateTokenizer(folder);
        }
        string? missing = tokenizerClass switch
        {
            "GPT2Tokenizer" or "BartTokenizer" => "vocab.json and merges.txt",
            "MarianTokenizer" => "source.spm, target.spm and vocab.json",
            "T5Tokenizer" => "spiece.model",
            "CodeGenTokenizer" => "vocab.json and merges.txt",
            "GemmaTokenizer" => "tokenizer.model",
            "M2M100Tokenizer" => "sentencepiece.bpe.model and vocab.json",
            _ => null,
        };
        throw new TokenizerLoadException(missing is null
            ? $"Slow tokenizer class '{tokenizerClass}' (from '{folder.PathOf("tokenizer_config.json")}') is not supported and " +
              "the folder has no tokenizer.json. Supported slow classes: GPT2Tokenizer, BartTokenizer, CodeGenTokenizer, GemmaTokenizer, M2M100Tokenizer, MarianTokenizer, T5Tokenizer."
            : $"'{folder.Directory}' declares {tokenizerClass} but lacks {missing} (and has no tokenizer.json).");
    }

    // AutoTokenizer's TOKENIZER_MAPPING for the model types this port knows, when tokenizer_config.json names no class.
    private static readonly Dictionary<string, string> ModelTypeClasses = new(StringComparer.Ordinal)
    {
        ["gpt2"] = "GPT2Tokenizer",
        ["bart"] = "BartTokenizer",
        ["marian"] = "MarianTokenizer",
        ["t5"] = "T5Tokenizer",
        ["mt5"] = "T5Tokenizer",
        ["llama"] = "LlamaTokenizer",
        ["mistral"] = "LlamaTokenizer",
        ["qwen2"] = "Qwen2Tokenizer",
        ["gemma"] = "GemmaTokenizer",
        ["gemma2"] = "GemmaTokenizer",
        ["gemma3"] = "GemmaTokenizer",
        ["gemma3_text"] = "GemmaTokenizer",
        ["opt"] = "GPT2Tokenizer",
        ["gpt_neox"] = "GPTNeoXTokenizer",
        ["phi"] = "CodeGenTokenizer",
        ["m2m_100"] = "M2M100Tokenizer",
    };

    private static string? ClassOfModelType(string? modelType) =>
        modelType is not null && ModelTypeClasses.TryGetValue(modelType, out var name) ? name : null;

    private static bool HasAll(TokenizerFolder folder, params string[] files)
    {
        foreach (var file in files)
        {
            if (!folder.Has(file))
            {
                return false;
            }
        }
        return true;
    }

    // "GPT2TokenizerFast" names the slow class GPT2Tokenizer; the kind (fast or slow) is chosen separately.
    private static string? NormalizeClassName(string? name)
    {
        if (name is null)
        {
            return null;
        }
        return name.EndsWith("Fast", StringComparison.Ordinal) ? name[..^4] : name;
    }

    private static string GuessClass(TokenizerFolder folder)
    {
        if (folder.Has("vocab.json") && folder.Has("merges.txt"))
        {
            return "GPT2Tokenizer";
        }
        if (folder.Has("source.spm"))
        {
            return "MarianTokenizer";
        }
        if (folder.Has("spiece.model"))
        {
            return "T5Tokenizer";
        }
        throw new TokenizerLoadException(
            $"'{folder.Directory}' holds no tokenizer files: expected tokenizer_config.json with tokenizer_class, or " +
            "vocab.json + merges.txt, source.spm + target.spm + vocab.json, spiece.model, or tokenizer.json.");
    }
}
