using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using static InseqBridge.Native.Models.TransformerOps;

namespace InseqBridge.Native.Models;

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

    /// <summary>The dtype the weights are kept and computed in (float32 unless loaded in bfloat16 or float16).</summary>
    public ScalarType ComputeType => EmbeddingMatrix.dtype;

    /// <summary>
    /// Whether the architecture computes correctly with bfloat16/float16 weights (it casts its inputs with
    /// <see cref="ToComputeType"/>). Loading in a reduced precision is refused for the others.
    /// </summary>
    public virtual bool SupportsReducedPrecision => false;

    /// <summary>Decoder token embeddings, scaled: [batch, seq] ids → [batch, seq, hidden], in float32 whatever the
    /// compute dtype (attribution differentiates them; the forward casts them to <see cref="ComputeType"/>).</summary>
    public virtual Tensor EmbedDecoderTokens(Tensor ids)
    {
        Tensor e = TransformerOps.Embedding(ids, EmbeddingMatrix);
        if (e.dtype != ScalarType.Float32)
        {
            Tensor reduced = e;
            e = reduced.to(ScalarType.Float32);
            reduced.Dispose();
        }

        if (EmbedScale == 1.0)
        {
            return e;
        }

        using (e)
        {
            return e.Times(EmbedScale);
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
    /// BART-style multi-head attention (BART, Marian, M2M100): biased q/k/v/out projections under <paramref name="p"/>,
    /// queries scaled by head_dim^-0.5 before the product, the decoder's self-attention keys and values appended to
    /// <paramref name="cache"/>, cross-attention keys and values computed once and reused from it, the value hook applied.
    /// </summary>
    protected (Tensor Output, Tensor Probabilities) ProjectedAttention(
        Tensor hidden, Tensor keyValueSource, Tensor mask, string p, int hiddenSize, int heads, double dropout, AttentionSite site, int layer,
        KvCache? cache, ForwardOptions options)
    {
        int headDim = hiddenSize / heads;
        double scaling = Math.Pow(headDim, -0.5);
        Tensor q = SplitHeads(Linear(hidden, W(p + "q_proj.weight"), W(p + "q_proj.bias")).Times(scaling), heads, headDim);
        Tensor k, v;
        if (site == AttentionSite.Cross && cache is not null && cache.TryGet(site, layer, out var cached))
        {
            (k, v) = (cached.Key, cached.Value);
        }
        else
        {
            k = SplitHeads(Linear(keyValueSource, W(p + "k_proj.weight"), W(p + "k_proj.bias")), heads, headDim);
            v = SplitHeads(Linear(keyValueSource, W(p + "v_proj.weight"), W(p + "v_proj.bias")), heads, headDim);
            if (cache is not null)
            {
                if (site == AttentionSite.DecoderSelf && cache.TryGet(site, layer, out var kv))
                {
                    k = torch.cat([kv.Key, k], 2);
                    v = torch.cat([kv.Value, v], 2);
                }

                cache.Set(site, layer, k.alias(), v.alias());
            }
        }

        if (options.ValueHook is not null)
        {
            v = options.ValueHook(site, layer, v);
        }

        Tensor scores = torch.matmul(q, k.transpose(-1, -2));
        var (context, probabilities) = Attend(scores, mask, v, dropout, options);
        Tensor output = Linear(MergeHeads(context), W(p + "out_proj.weight"), W(p + "out_proj.bias"));
        return (output, probabilities);
    }

    /// <summary>
    /// The language-model head: logits [.., vocab] of final (normalized) decoder hidden states [.., hidden]. Decode
    /// applies it unless <see cref="ForwardOptions.Head"/> replaces it.
    /// </summary>
    public abstract Tensor LanguageModelHead(Tensor hidden);

    /// <summary>What <see cref="DecoderOutput.Logits"/> holds: the head (or its replacement) on the positions it
    /// reads, in float32 (a reduced-precision model's logits are upcast).</summary>
    protected Tensor ApplyHead(Tensor hidden, ForwardOptions options)
    {
        Tensor read = TransformerOps.HeadInput(hidden, options);
        Tensor logits = options.Head is { } head ? head(read) : LanguageModelHead(read);
        return logits.dtype == ScalarType.BFloat16 || logits.dtype == ScalarType.Float16 ? logits.to(ScalarType.Float32) : logits;
    }

    /// <summary>Casts float32 inputs (embeddings) to <see cref="ComputeType"/>; the identity for float32 models.</summary>
    protected Tensor ToComputeType(Tensor x) => x.dtype == ComputeType ? x : x.to(ComputeType);

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

    /// <summary>Loads the architecture matching the checkpoint's config, in float32.</summary>
    public static TransformerLanguageModel Load(string directory, ModelConfig config) => Load(directory, config, ModelDType.Float32);

    /// <summary>
    /// Loads the architecture matching the checkpoint's config with its weights in <paramref name="dtype"/>. Every
    /// weight the architecture reads is checked (name, shape, dtype) against the file headers first.
    /// </summary>
    /// <exception cref="CheckpointException">A missing or mismatched weight (named), or a corrupt file.</exception>
    /// <exception cref="UnsupportedModelException">A reduced precision on an architecture that computes in float32 only.</exception>
    public static TransformerLanguageModel Load(string directory, ModelConfig config, ModelDType dtype)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (dtype != ModelDType.Float32 && !SupportsReducedPrecisionFor(config))
        {
            throw new UnsupportedModelException(
                $"{config.ModelClass} computes in float32 only natively; --dtype {dtype.ToName()} is supported on the Llama family (llama, mistral, qwen2). Load it in float32.");
        }

        return FromWeights(config, SafetensorsCheckpoint.Load(directory, dtype, stored => DeclaredWeights(config, stored), config.ModelClass));
    }

    /// <summary>
    /// The weights the architecture of <paramref name="config"/> reads (checked and loaded by <see cref="Load(string, ModelConfig, ModelDType)"/>),
    /// or null for an architecture that declares none (then every tensor loads and a missing one is reported at its
    /// first use). <paramref name="stored"/>: the checkpoint's keys, for architectures whose key names have variants.
    /// A new architecture adds one line here.
    /// </summary>
    public static IReadOnlyList<Checkpoints.WeightSpec>? DeclaredWeights(ModelConfig config, IReadOnlyCollection<string> stored) => config switch
    {
        LlamaConfig c => LlamaModel.Weights(c),
        Gpt2Config c => Gpt2Model.Weights(c, stored),
        BartConfig c => BartModel.Weights(c),
        T5Config c => T5Model.Weights(c),
        GptNeoXConfig c => GptNeoXModel.Weights(c),
        OptConfig c => OptModel.Weights(c),
        GemmaConfig c => GemmaModel.Weights(c),
        PhiConfig c => PhiModel.Weights(c),
        M2M100Config c => M2M100Model.Weights(c, stored),
        _ => null,
    };

    private static bool SupportsReducedPrecisionFor(ModelConfig config) => config is LlamaConfig;

    /// <summary>Builds the architecture matching <paramref name="config"/> over weights keyed by their Hugging Face
    /// checkpoint names (taken over: disposed with the model, or here when construction fails). Weights that require
    /// gradients stay differentiable, so the same forward can train a model (see examples/DemoModel).</summary>
    public static TransformerLanguageModel FromWeights(ModelConfig config, Dictionary<string, Tensor> weights)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        try
        {
            if (DeclaredWeights(config, weights.Keys) is { } declared)
            {
                Checkpoints.WeightSpec.Validate(
                    declared,
                    weights.ToDictionary(kv => kv.Key, kv => (StoredName(kv.Value.dtype), kv.Value.shape, "the given weights")),
                    config.ModelClass);
            }

            TransformerLanguageModel model = config switch
            {
                Gpt2Config c => new Gpt2Model(c, weights),
                LlamaConfig c => new LlamaModel(c, weights),
                BartConfig c => new BartModel(c, weights),
                T5Config c => new T5Model(c, weights),
                GptNeoXConfig c => new GptNeoXModel(c, weights),
                OptConfig c => new OptModel(c, weights),
                GemmaConfig c => new GemmaModel(c, weights),
                PhiConfig c => new PhiModel(c, weights),
                M2M100Config c => new M2M100Model(c, weights),
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

    private static string StoredName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        _ => type.ToString().ToUpperInvariant(),
    };
}
