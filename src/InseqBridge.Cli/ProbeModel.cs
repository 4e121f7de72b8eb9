using InseqBridge.Errors;
using InseqBridge.Tokenizers;
using InseqBridge.TorchSharp.Checkpoints;
using InseqBridge.TorchSharp.Models;

namespace InseqBridge.Cli;

/// <summary>
/// A checkpoint folder loaded for the probe commands (<c>forward</c>, <c>generate</c>): configuration, tokenizer,
/// generation configuration and the native model.
/// </summary>
public sealed class ProbeModel : IDisposable
{
    private ProbeModel(string directory, ModelConfig config, GenerationConfig generation, IHfTokenizer tokenizer, TransformerLanguageModel model)
    {
        Directory = directory;
        Config = config;
        Generation = generation;
        Tokenizer = tokenizer;
        Model = model;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>The model configuration (config.json).</summary>
    public ModelConfig Config { get; }

    /// <summary>The generation configuration (generation_config.json over config.json).</summary>
    public GenerationConfig Generation { get; }

    /// <summary>The checkpoint's tokenizer.</summary>
    public IHfTokenizer Tokenizer { get; }

    /// <summary>The loaded model.</summary>
    public TransformerLanguageModel Model { get; }

    /// <summary>The decoder start token of an encoder-decoder model.</summary>
    /// <exception cref="CheckpointException">The configuration names none.</exception>
    public int DecoderStartTokenId =>
        Generation.DecoderStartTokenId ?? Config.DecoderStartTokenId
        ?? throw new CheckpointException($"{Path.Combine(Directory, "config.json")} has no decoder_start_token_id.");

    /// <summary>Loads everything from <paramref name="directory"/>.</summary>
    /// <exception cref="CheckpointException">The folder is missing or is not a checkpoint.</exception>
    /// <exception cref="UnsupportedModelException">The model type has no native implementation.</exception>
    /// <exception cref="TokenizerLoadException">The tokenizer files are missing or malformed.</exception>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="tokenizerKind">Fast or slow tokenizer files (default: as AutoTokenizer).</param>
    public static ProbeModel Load(string directory, TokenizerKind tokenizerKind = TokenizerKind.Auto)
    {
        ModelConfig config = ModelConfig.Load(directory);
        GenerationConfig generation = GenerationConfig.Load(directory, config);
        IHfTokenizer tokenizer = LoadTokenizer(directory, tokenizerKind);
        return new ProbeModel(directory, config, generation, tokenizer, TransformerLanguageModel.Load(directory, config));
    }

    /// <summary>Loads only the tokenizer of <paramref name="directory"/>.</summary>
    /// <exception cref="CheckpointException">The folder does not exist.</exception>
    /// <exception cref="TokenizerLoadException">The tokenizer files are missing or malformed.</exception>
    /// <param name="directory">The checkpoint (or tokenizer-only) folder.</param>
    /// <param name="kind">Fast or slow tokenizer files (default: as AutoTokenizer).</param>
    public static IHfTokenizer LoadTokenizer(string directory, TokenizerKind kind = TokenizerKind.Auto)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new CheckpointException($"Checkpoint folder '{directory}' does not exist.");
        }

        return HfTokenizer.Load(directory, kind);
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
