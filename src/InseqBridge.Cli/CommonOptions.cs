using System.CommandLine;

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

    /// <summary><c>--overwrite</c>: replace existing output files.</summary>
    public static Option<bool> Overwrite() => new("--overwrite")
    {
        Description = "Replace output files that already exist.",
    };
}
