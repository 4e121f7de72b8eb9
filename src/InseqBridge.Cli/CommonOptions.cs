using System.CommandLine;
using InseqBridge.Tokenizers;

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
    public static Option<string?> Tokenizer()
    {
        var option = new Option<string?>("--tokenizer")
        {
            Description = "Tokenizer files to load: fast (tokenizer.json) or slow (vocab.json + merges.txt, SentencePiece " +
                          "models). Default: as AutoTokenizer, fast when the folder has tokenizer.json.",
            HelpName = "fast|slow",
        };
        option.AcceptOnlyFromAmong("fast", "slow", "auto");
        return option;
    }

    /// <summary>The <see cref="TokenizerKind"/> of a <c>--tokenizer</c> value (null: auto).</summary>
    public static TokenizerKind TokenizerKindOf(string? value) => value switch
    {
        "fast" => TokenizerKind.Fast,
        "slow" => TokenizerKind.Slow,
        _ => TokenizerKind.Auto,
    };

    /// <summary><c>--overwrite</c>: replace existing output files.</summary>
    public static Option<bool> Overwrite() => new("--overwrite")
    {
        Description = "Replace output files that already exist.",
    };
}
