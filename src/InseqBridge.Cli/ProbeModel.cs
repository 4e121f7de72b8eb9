using InseqBridge.Errors;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;

namespace InseqBridge.Cli;

/// <summary>
/// A checkpoint folder loaded for the probe commands (<c>forward</c>, <c>generate</c>): configuration, tokenizer,
/// generation configuration and the native model.
/// </summary>
public sealed class ProbeModel : IDisposable
{
    private readonly IHfTokenizer? _tokenizer;
    private readonly Exception? _tokenizerError;

    private ProbeModel(string directory, ModelConfig config, GenerationConfig generation, IHfTokenizer? tokenizer, Exception? tokenizerError, TransformerLanguageModel model)
    {
        Directory = directory;
        Config = config;
        Generation = generation;
        _tokenizer = tokenizer;
        _tokenizerError = tokenizerError;
        Model = model;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>The model configuration (config.json).</summary>
    public ModelConfig Config { get; }

    /// <summary>The generation configuration (generation_config.json over config.json).</summary>
    public GenerationConfig Generation { get; }

    /// <summary>The checkpoint's tokenizer.</summary>
    /// <exception cref="TokenizerLoadException">It was loaded without one and the tokenizer files do not load.</exception>
    public IHfTokenizer Tokenizer => _tokenizer ?? throw (_tokenizerError ?? new TokenizerLoadException($"No tokenizer was loaded from {Directory}."));

    /// <summary>The tokenizer, or null when it was optional and did not load.</summary>
    public IHfTokenizer? OptionalTokenizer => _tokenizer;

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
    public static ProbeModel Load(string directory, TokenizerKind tokenizerKind = TokenizerKind.Auto) =>
        Load(directory, ModelDType.Float32, tokenizerRequired: true, tokenizerKind);

    /// <summary>Loads everything from <paramref name="directory"/>, the weights in <paramref name="dtype"/>.</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="dtype">Precision of the weights and the compute.</param>
    /// <param name="tokenizerRequired">False when the caller passes token ids: a tokenizer that does not load is then
    /// not an error (<see cref="OptionalTokenizer"/> is null).</param>
    /// <param name="tokenizerKind">Fast or slow tokenizer files (default: as AutoTokenizer).</param>
    public static ProbeModel Load(string directory, ModelDType dtype, bool tokenizerRequired, TokenizerKind tokenizerKind = TokenizerKind.Auto)
    {
        ModelConfig config = ModelConfig.Load(directory);
        GenerationConfig generation = GenerationConfig.Load(directory, config);
        IHfTokenizer? tokenizer = null;
        Exception? tokenizerError = null;
        try
        {
            tokenizer = LoadTokenizer(directory, tokenizerKind);
        }
        catch (Exception e) when (!tokenizerRequired && e is not OutOfMemoryException)
        {
            tokenizerError = e;
        }

        return new ProbeModel(directory, config, generation, tokenizer, tokenizerError, TransformerLanguageModel.Load(directory, config, dtype));
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
