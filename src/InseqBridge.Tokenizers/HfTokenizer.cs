using InseqBridge.Tokenizers.ByteLevel;
using InseqBridge.Tokenizers.Common;
using InseqBridge.Tokenizers.Models;

namespace InseqBridge.Tokenizers;

/// <summary>Loads the Hugging Face tokenizer saved in a checkpoint folder.</summary>
public static class HfTokenizer
{
    /// <summary>
    /// Loads the tokenizer of <paramref name="directory"/>. The class comes from <c>tokenizer_config.json</c>'s
    /// <c>tokenizer_class</c> when present, otherwise from the files: <c>vocab.json</c> + <c>merges.txt</c> (GPT-2
    /// byte-level BPE), <c>source.spm</c> (Marian), <c>spiece.model</c> (T5), or <c>tokenizer.json</c> (fast format).
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <returns>An immutable, thread-safe tokenizer.</returns>
    /// <exception cref="TokenizerLoadException">Files are missing or malformed, or the class is not supported.</exception>
    public static IHfTokenizer Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var folder = TokenizerFolder.Read(directory);
        string? declaredClass = folder.TokenizerClass;
        string tokenizerClass = NormalizeClassName(declaredClass) ?? GuessClass(folder);
        switch (tokenizerClass)
        {
            case "GPT2Tokenizer" when HasAll(folder, "vocab.json", "merges.txt"):
                return new SlowTokenizer(ByteLevelBpeModel.Load(folder, isBart: false), folder);
            case "BartTokenizer" when HasAll(folder, "vocab.json", "merges.txt"):
                return new SlowTokenizer(ByteLevelBpeModel.Load(folder, isBart: true), folder);
            case "MarianTokenizer" when HasAll(folder, "source.spm", "target.spm", "vocab.json"):
                return MarianModel.CreateTokenizer(folder);
            case "T5Tokenizer" when HasAll(folder, "spiece.model"):
                return T5Model.CreateTokenizer(folder);
            case "M2M100Tokenizer" when HasAll(folder, "sentencepiece.bpe.model", "vocab.json"):
                return M2M100Model.CreateTokenizer(folder);
        }
        // The slow files reproduce use_fast=False exactly, so tokenizer.json is only the fallback.
        if (folder.Has("tokenizer.json"))
        {
            return FastTokenizerJson.Load(folder);
        }
        string? missing = tokenizerClass switch
        {
            "GPT2Tokenizer" or "BartTokenizer" => "vocab.json and merges.txt",
            "MarianTokenizer" => "source.spm, target.spm and vocab.json",
            "T5Tokenizer" => "spiece.model",
            "M2M100Tokenizer" => "sentencepiece.bpe.model and vocab.json",
            _ => null,
        };
        throw new TokenizerLoadException(missing is null
            ? $"Tokenizer class '{tokenizerClass}' (from '{folder.PathOf("tokenizer_config.json")}') is not supported and " +
              "the folder has no tokenizer.json. Supported: GPT2Tokenizer, BartTokenizer, MarianTokenizer, T5Tokenizer, M2M100Tokenizer."
            : $"'{folder.Directory}' declares {tokenizerClass} but lacks {missing} (and has no tokenizer.json).");
    }

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

    // "GPT2TokenizerFast" loads the slow class here: the fast and slow classes share the same files and outputs.
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
        if (folder.Has("tokenizer.json"))
        {
            return "PreTrainedTokenizerFast";
        }
        throw new TokenizerLoadException(
            $"'{folder.Directory}' holds no tokenizer files: expected tokenizer_config.json with tokenizer_class, or " +
            "vocab.json + merges.txt, source.spm + target.spm + vocab.json, spiece.model, or tokenizer.json.");
    }
}
