using System.CommandLine;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Checkpoints;

namespace InseqBridge.Cli;

/// <summary>Options shared by several commands (a fresh instance per command).</summary>
public static class CommonOptions
{
    /// <summary><c>--model DIR</c>: a Hugging Face checkpoint folder.</summary>
    public static Option<string> Model() => new("--model")
    {
        Description = "Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer files).",
        Required = true,
        HelpName = "DIR",
    };

    /// <summary><c>--input TEXT</c>: the prompt or source text.</summary>
    public static Option<string> Input() => new("--input")
    {
        Description = "Input text: the prompt (decoder-only) or the source text (encoder-decoder).",
        Required = true,
        HelpName = "TEXT",
    };

    /// <summary><c>--tokenizer fast|slow</c>: which tokenizer files to load (default: as AutoTokenizer does).</summary>
    public static Option<TokenizerKind?> Tokenizer() => EnumOption.Create<TokenizerKind>(
        "--tokenizer",
        "Tokenizer files to load: fast (tokenizer.json) or slow (vocab.json + merges.txt, SentencePiece " +
        "models). Default: auto, as AutoTokenizer, fast when the folder has tokenizer.json.",
        [new("fast", TokenizerKind.Fast), new("slow", TokenizerKind.Slow), new("auto", TokenizerKind.Auto)]);

    /// <summary>The <see cref="TokenizerKind"/> of a <c>--tokenizer</c> value (null: auto).</summary>
    public static TokenizerKind TokenizerKindOf(TokenizerKind? value) => value ?? TokenizerKind.Auto;

    /// <summary><c>--overwrite</c>: replace existing output files.</summary>
    public static Option<bool> Overwrite() => new("--overwrite")
    {
        Description = "Replace output files that already exist.",
    };

    /// <summary><c>--dtype bfloat16|float16|float32</c>: precision the native backend keeps the weights and computes in.</summary>
    public static Option<ModelDType?> DType() => EnumOption.Create<ModelDType>(
        "--dtype",
        "Native backend: precision of the weights and the compute (default float32, which matches transformers' default load; " +
        "bfloat16/float16 halve the memory, logits move by ~1e-2).",
        [.. ModelDTypes.Names.Select(n => new KeyValuePair<string, ModelDType>(n, ModelDTypes.Parse(n)))]);

    /// <summary>The value of a <see cref="DType"/> option (float32 when absent).</summary>
    public static ModelDType ParseDType(ModelDType? value) => value ?? ModelDType.Float32;

    /// <summary><c>--input-ids 1,2,3</c>: token ids used as they are instead of tokenizing <c>--input</c>.</summary>
    public static Option<string?> InputIds() => new("--input-ids")
    {
        Description = "Comma-separated input token ids, used as they are (no tokenizer, no special tokens added), instead of --input.",
        HelpName = "IDS",
    };

    /// <summary>Parses comma-separated token ids (e.g. <c>2,45,7</c>).</summary>
    /// <exception cref="CliUsageException">Not a list of non-negative integers.</exception>
    public static int[] ParseIds(string text, string option)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ids[i]))
            {
                throw new CliUsageException($"{option}: '{parts[i]}' is not a token id (expected e.g. 2,45,7).");
            }
        }

        return ids.Length > 0 ? ids : throw new CliUsageException($"{option} needs at least one id.");
    }
}
