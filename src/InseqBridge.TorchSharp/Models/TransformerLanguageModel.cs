using InseqBridge.Errors;
using InseqBridge.TorchSharp.Checkpoints;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Models;

/// <summary>
/// A language model implemented natively: weights are looked up by their checkpoint keys, forwards are plain
/// functions of the inputs (no hidden state), so one loaded model serves concurrent calls from several threads.
/// Every forward takes input <em>embeddings</em> (already multiplied by the embedding scale), which is what
/// attribution differentiates.
/// </summary>
public abstract class TransformerLanguageModel : IDisposable
{
    private readonly Dictionary<string, Tensor> _weights;
    private bool _disposed;

    /// <summary>Creates the model over loaded weights (taken over; disposed with the model).</summary>
    protected TransformerLanguageModel(ModelConfig config, Dictionary<string, Tensor> weights)
    {
        Config = config;
        _weights = weights;
    }

    /// <summary>The checkpoint's configuration.</summary>
    public ModelConfig Config { get; }

    /// <summary>True for encoder-decoder models.</summary>
    public bool IsEncoderDecoder => Config.IsEncoderDecoder;

    /// <summary>Number of decoder layers.</summary>
    public abstract int DecoderLayers { get; }

    /// <summary>Number of encoder layers (0 for decoder-only models).</summary>
    public virtual int EncoderLayers => 0;

    /// <summary>Factor applied to token embeddings before the first layer (sqrt(d_model) for Marian, else 1).</summary>
    public virtual double EmbedScale => 1.0;

    /// <summary>The input embedding matrix [vocab, hidden].</summary>
    public abstract Tensor EmbeddingMatrix { get; }

    /// <summary>Device of the weights.</summary>
    public Device Device => EmbeddingMatrix.device;

    /// <summary>Names of the loaded weights (checkpoint keys).</summary>
    public IEnumerable<string> WeightNames => _weights.Keys;

    /// <summary>Decoder token embeddings, scaled: [batch, seq] ids → [batch, seq, hidden].</summary>
    public virtual Tensor EmbedDecoderTokens(Tensor ids)
    {
        Tensor e = TransformerOps.Embedding(ids, EmbeddingMatrix);
        if (EmbedScale == 1.0)
        {
            return e;
        }

        using (e)
        {
            return e * EmbedScale;
        }
    }

    /// <summary>Encoder token embeddings, scaled (encoder-decoders).</summary>
    public virtual Tensor EmbedEncoderTokens(Tensor ids) => EmbedDecoderTokens(ids);

    /// <summary>Runs the encoder (encoder-decoders only).</summary>
    /// <param name="inputsEmbeds">[batch, source, hidden] scaled embeddings.</param>
    /// <param name="attentionMask">[batch, source] 1 for tokens, 0 for padding; null for all ones.</param>
    /// <param name="options">Extra outputs and hooks.</param>
    public virtual EncoderOutput Encode(Tensor inputsEmbeds, Tensor? attentionMask, ForwardOptions options) =>
        throw new InvalidOperationException($"{Config.ModelClass} has no encoder.");

    /// <summary>Runs the decoder (or the whole decoder-only model).</summary>
    /// <param name="inputsEmbeds">[batch, positions, hidden] scaled embeddings of the new positions.</param>
    /// <param name="attentionMask">[batch, past + positions] 1 for tokens, 0 for padding; null for all ones.</param>
    /// <param name="positionIds">[batch, positions] explicit positions; null for past .. past+positions-1.</param>
    /// <param name="encoder">Encoder output (encoder-decoders).</param>
    /// <param name="encoderAttentionMask">[batch, source] (encoder-decoders).</param>
    /// <param name="cache">Key/value cache to read and extend, or null.</param>
    /// <param name="options">Extra outputs and hooks.</param>
    public abstract DecoderOutput Decode(
        Tensor inputsEmbeds,
        Tensor? attentionMask,
        Tensor? positionIds,
        EncoderOutput? encoder,
        Tensor? encoderAttentionMask,
        KvCache? cache,
        ForwardOptions options);

    /// <summary>A weight by checkpoint key.</summary>
    /// <exception cref="CheckpointException">The checkpoint lacks the key.</exception>
    protected Tensor W(string key) =>
        _weights.TryGetValue(key, out Tensor? t)
            ? t
            : throw new CheckpointException($"The checkpoint has no weight '{key}' required by {Config.ModelClass}. It is incomplete or of another architecture.");

    /// <summary>A weight by checkpoint key, or null when absent.</summary>
    protected Tensor? OptionalW(string key) => _weights.GetValueOrDefault(key);

    /// <summary>
    /// The language-model head: logits [.., vocab] of final (normalized) decoder hidden states [.., hidden]. Decode
    /// applies it unless <see cref="ForwardOptions.Head"/> replaces it.
    /// </summary>
    public abstract Tensor LanguageModelHead(Tensor hidden);

    /// <summary>What <see cref="DecoderOutput.Logits"/> holds: the head (or its replacement) on the positions it reads.</summary>
    protected Tensor ApplyHead(Tensor hidden, ForwardOptions options)
    {
        Tensor read = TransformerOps.HeadInput(hidden, options);
        return options.Head is { } head ? head(read) : LanguageModelHead(read);
    }

    /// <summary>Checks that the sequence fits the model's positions.</summary>
    protected void CheckPositions(long positions, string side)
    {
        if (Config.MaxPositions is int max && positions > max)
        {
            throw new InvalidInputException(
                $"The {side} has {positions} tokens but {Config.ModelClass} accepts at most {max} positions (max_position_embeddings). Shorten the text.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the weights.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing)
        {
            foreach (Tensor t in _weights.Values)
            {
                t.Dispose();
            }

            _weights.Clear();
        }
    }

    /// <summary>Loads the architecture matching the checkpoint's config.</summary>
    public static TransformerLanguageModel Load(string directory, ModelConfig config) =>
        FromWeights(config, SafetensorsCheckpoint.Load(directory));

    /// <summary>Builds the architecture matching <paramref name="config"/> over weights keyed by their Hugging Face
    /// checkpoint names (taken over: disposed with the model, or here when construction fails). Weights that require
    /// gradients stay differentiable, so the same forward can train a model (see examples/DemoModel).</summary>
    public static TransformerLanguageModel FromWeights(ModelConfig config, Dictionary<string, Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        try
        {
            TransformerLanguageModel model = config switch
            {
                Gpt2Config c => new Gpt2Model(c, weights),
                LlamaConfig c => new LlamaModel(c, weights),
                BartConfig c => new BartModel(c, weights),
                T5Config c => new T5Model(c, weights),
                _ => throw new UnsupportedModelException($"No native implementation for {config.ModelType}."),
            };
            ModelConfigValidator.CheckEmbedding(config, model.EmbeddingMatrix.shape);
            return model;
        }
        catch
        {
            foreach (Tensor t in weights.Values)
            {
                t.Dispose();
            }

            throw;
        }
    }
}
