using System.Text.Json;
using InseqBridge.Errors;

namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> every architecture shares. Read with
/// <see cref="ModelConfig.Load(string)"/>, which returns the typed subclass for the checkpoint's <c>model_type</c>.
/// </summary>
public abstract record ModelConfig
{
    /// <summary>The <c>model_type</c> values the native backend implements.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["gpt2", "llama", "mistral", "qwen2", "bart", "marian", "t5", "gpt_neox", "opt", "gemma", "phi", "mt5", "m2m_100"];

    /// <summary><c>model_type</c> as written in config.json.</summary>
    public required string ModelType { get; init; }

    /// <summary>First entry of <c>architectures</c> (the HF class name), used as Inseq's <c>model_class</c>.</summary>
    public required string ModelClass { get; init; }

    /// <summary>Vocabulary size of the embedding matrix.</summary>
    public required int VocabSize { get; init; }

    /// <summary>True for encoder-decoder models (BART, Marian, T5).</summary>
    public required bool IsEncoderDecoder { get; init; }

    /// <summary>Largest number of positions the model accepts (null when unbounded, e.g. T5's relative positions).</summary>
    public int? MaxPositions { get; init; }

    /// <summary>Whether the output projection shares the input embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; }

    /// <summary><c>eos_token_id</c> (may list several).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary><c>pad_token_id</c>.</summary>
    public int? PadTokenId { get; init; }

    /// <summary><c>decoder_start_token_id</c> (encoder-decoders).</summary>
    public int? DecoderStartTokenId { get; init; }

    /// <summary>The raw config.json.</summary>
    public required JsonElement Raw { get; init; }

    /// <summary>Reads <c>config.json</c> from a checkpoint folder.</summary>
    /// <exception cref="CheckpointException">The file is missing or malformed.</exception>
    /// <exception cref="UnsupportedModelException">The model_type is not implemented natively.</exception>
    public static ModelConfig Load(string directory)
    {
        string path = Path.Combine(directory, "config.json");
        if (!Directory.Exists(directory))
        {
            throw new CheckpointException($"Checkpoint folder '{directory}' does not exist.");
        }

        if (!File.Exists(path))
        {
            throw new CheckpointException($"'{directory}' has no config.json: point --model at a Hugging Face checkpoint folder (save_pretrained output).");
        }

        JsonElement root;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is not valid JSON: {e.Message}", e);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException($"{path} must hold a JSON object.");
        }

        var r = new ConfigReader(root, path);
        string modelType = r.String("model_type") ?? throw new CheckpointException($"{path} has no 'model_type'.");
        try
        {
            return ModelConfigValidator.Validate(modelType switch
            {
                "gpt2" => Gpt2Config.Read(r),
                "llama" or "mistral" or "qwen2" => LlamaConfig.Read(r),
                "bart" or "marian" => BartConfig.Read(r),
                "t5" or "mt5" => T5Config.Read(r),
                "gpt_neox" => GptNeoXConfig.Read(r),
                "opt" => OptConfig.Read(r),
                "gemma" => GemmaConfig.Read(r),
                "phi" => PhiConfig.Read(r),
                "m2m_100" => M2M100Config.Read(r),
                _ => throw new UnsupportedModelException(
                    $"{path}: model_type '{modelType}' is not supported by the native backend (supported: {string.Join(", ", SupportedModelTypes)}). " +
                    "Use the Python backend (--backend python) for other models."),
            }, path);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or DivideByZeroException or OverflowException)
        {
            // System.Text.Json's messages name .NET types ("System.Int32"); say which kind of value is expected.
            throw new CheckpointException($"{path}: a value has the wrong type or range ({e.Message.Replace("System.", string.Empty, StringComparison.Ordinal)}); fix config.json.", e);
        }
    }

}

/// <summary>Typed access to config.json values with the file path in every error.</summary>
internal sealed class ConfigReader(JsonElement root, string path)
{
    public JsonElement Root { get; } = root;

    public string Path { get; } = path;

    public bool Has(string key) => Root.TryGetProperty(key, out JsonElement v) && v.ValueKind != JsonValueKind.Null;

    public string? String(string key) => !Has(key) ? null
        : Root.GetProperty(key).ValueKind == JsonValueKind.String ? Root.GetProperty(key).GetString()
        : throw new CheckpointException($"{Path}: '{key}' must be a string; fix config.json.");

    public int Int(string key) => Has(key) ? Root.GetProperty(key).GetInt32()
        : throw new CheckpointException($"{Path} has no '{key}'.");

    public int? IntOrNull(string key) => Has(key) ? Root.GetProperty(key).GetInt32() : null;

    public int Int(string key, int fallback) => IntOrNull(key) ?? fallback;

    public double Double(string key, double fallback) => Has(key) ? Root.GetProperty(key).GetDouble() : fallback;

    public bool Bool(string key, bool fallback) => Has(key) ? Root.GetProperty(key).GetBoolean() : fallback;

    public IReadOnlyList<int> IntList(string key)
    {
        if (!Has(key))
        {
            return [];
        }

        JsonElement v = Root.GetProperty(key);
        return v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetInt32()).ToArray() : [v.GetInt32()];
    }

    public string ModelClass(string fallback) =>
        Has("architectures") && Root.GetProperty("architectures").GetArrayLength() > 0
            ? Root.GetProperty("architectures")[0].GetString() ?? fallback
            : fallback;
}

/// <summary>GPT-2 (<c>GPT2LMHeadModel</c>).</summary>
public sealed record Gpt2Config : ModelConfig
{
    /// <summary><c>n_embd</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>n_layer</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>n_head</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>n_inner</c> (default 4 × n_embd).</summary>
    public required int InnerSize { get; init; }

    /// <summary><c>layer_norm_epsilon</c>.</summary>
    public required double LayerNormEpsilon { get; init; }

    /// <summary><c>activation_function</c> (gelu_new, gelu, relu, silu...).</summary>
    public required string Activation { get; init; }

    /// <summary><c>scale_attn_weights</c>.</summary>
    public bool ScaleAttentionWeights { get; init; } = true;

    /// <summary><c>scale_attn_by_inverse_layer_idx</c>.</summary>
    public bool ScaleAttentionByInverseLayerIndex { get; init; }

    /// <summary><c>embd_pdrop</c>: dropout after token + position embeddings (training mode only; default 0.1).</summary>
    public double EmbeddingDropout { get; init; } = 0.1;

    /// <summary><c>attn_pdrop</c>: dropout on attention probabilities (training mode only; default 0.1).</summary>
    public double AttentionDropout { get; init; } = 0.1;

    /// <summary><c>resid_pdrop</c>: dropout after the attention and MLP output projections (training mode only; default 0.1).</summary>
    public double ResidualDropout { get; init; } = 0.1;

    internal static Gpt2Config Read(ConfigReader r)
    {
        int hidden = r.Int("n_embd");
        return new Gpt2Config
        {
            ModelType = "gpt2",
            ModelClass = r.ModelClass("GPT2LMHeadModel"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = false,
            MaxPositions = r.Int("n_positions", 1024),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            Raw = r.Root,
            HiddenSize = hidden,
            Layers = r.Int("n_layer"),
            Heads = r.Int("n_head"),
            InnerSize = r.Int("n_inner", 4 * hidden),
            LayerNormEpsilon = r.Double("layer_norm_epsilon", 1e-5),
            Activation = r.String("activation_function") ?? "gelu_new",
            ScaleAttentionWeights = r.Bool("scale_attn_weights", true),
            ScaleAttentionByInverseLayerIndex = r.Bool("scale_attn_by_inverse_layer_idx", false),
            EmbeddingDropout = r.Double("embd_pdrop", 0.1),
            AttentionDropout = r.Double("attn_pdrop", 0.1),
            ResidualDropout = r.Double("resid_pdrop", 0.1),
        };
    }
}

/// <summary>The Llama family: Llama, Mistral, Qwen2 (RMSNorm, RoPE, grouped-query attention, SwiGLU).</summary>
public sealed record LlamaConfig : RotaryDecoderConfig
{
    /// <summary><c>max_position_embeddings</c> (also <see cref="ModelConfig.MaxPositions"/>, except with dynamic rope
    /// scaling, which extends the context beyond it).</summary>
    public required int MaxPositionEmbeddings { get; init; }

    /// <summary><c>rope_scaling</c> (null: plain RoPE; always null for Mistral, whose transformers implementation ignores it).</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Whether q/k/v projections have biases (Qwen2 always; Llama with <c>attention_bias</c>).</summary>
    public required bool AttentionBias { get; init; }

    /// <summary>Whether the attention output projection has a bias (Llama with <c>attention_bias</c>; never Qwen2 or Mistral).</summary>
    public bool OutputBias { get; init; }

    /// <summary><c>mlp_bias</c> (Llama): gate/up/down projections have biases.</summary>
    public bool MlpBias { get; init; }

    /// <summary>
    /// Sliding attention window of each layer (null: full causal attention): Mistral's <c>sliding_window</c> on every
    /// layer; Qwen2's on layers from <c>max_window_layers</c> on when <c>use_sliding_window</c> is true; or as listed by
    /// <c>layer_types</c> when config.json has it. A query at position i sees keys i - window + 1 .. i.
    /// </summary>
    public IReadOnlyList<int?> LayerSlidingWindows { get; init; } = [];

    /// <summary><c>hidden_act</c>.</summary>
    public required string Activation { get; init; }

    /// <summary><c>attention_dropout</c>: dropout on attention probabilities (training mode only; default 0).</summary>
    public double AttentionDropout { get; init; }

    internal static LlamaConfig Read(ConfigReader r)
    {
        string type = r.String("model_type")!;
        int hidden = r.Int("hidden_size");
        int heads = r.Int("num_attention_heads");
        int layers = r.Int("num_hidden_layers");
        int maxPositions = r.Int("max_position_embeddings", 2048);
        bool llamaBias = type == "llama" && r.Bool("attention_bias", false);
        // transformers' Mistral (as of 4.46, the reference here) builds plain RoPE and ignores rope_scaling.
        RopeScaling? rope = type == "mistral" ? null : RopeScaling.Read(r);
        return new LlamaConfig
        {
            ModelType = type,
            ModelClass = r.ModelClass(type switch { "qwen2" => "Qwen2ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM" }),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = false,
            MaxPositions = rope?.Type == "dynamic" ? null : maxPositions,
            MaxPositionEmbeddings = maxPositions,
            TieWordEmbeddings = r.Bool("tie_word_embeddings", false),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            Raw = r.Root,
            HiddenSize = hidden,
            Layers = layers,
            Heads = heads,
            KeyValueHeads = r.Int("num_key_value_heads", heads),
            HeadDim = r.Int("head_dim", heads == 0 ? 0 : hidden / heads),
            IntermediateSize = r.Int("intermediate_size"),
            RmsNormEpsilon = r.Double("rms_norm_eps", 1e-6),
            RopeTheta = r.Double("rope_theta", 10000.0),
            RopeScaling = rope,
            AttentionBias = type == "qwen2" || llamaBias,
            OutputBias = llamaBias,
            MlpBias = type == "llama" && r.Bool("mlp_bias", false),
            LayerSlidingWindows = SlidingWindows(r, type, layers),
            Activation = r.String("hidden_act") ?? "silu",
            AttentionDropout = r.Double("attention_dropout", 0.0),
        };
    }

    private static int?[] SlidingWindows(ConfigReader r, string type, int layers)
    {
        int? window = type switch
        {
            "mistral" => r.IntOrNull("sliding_window"),
            "qwen2" => r.Bool("use_sliding_window", false) ? r.IntOrNull("sliding_window") : null,
            _ => null,
        };
        var result = new int?[layers];
        if (window is null)
        {
            return result;
        }

        if (window <= 0)
        {
            throw new CheckpointException($"{r.Path}: sliding_window must be positive (got {window}).");
        }

        if (r.Has("layer_types"))
        {
            string[] kinds = r.Root.GetProperty("layer_types").EnumerateArray().Select(k => k.GetString() ?? string.Empty).ToArray();
            if (kinds.Length != layers)
            {
                throw new CheckpointException($"{r.Path}: layer_types lists {kinds.Length} layers but num_hidden_layers is {layers}.");
            }

            for (int i = 0; i < layers; i++)
            {
                result[i] = kinds[i] switch
                {
                    "sliding_attention" => window,
                    "full_attention" => null,
                    _ => throw new UnsupportedModelException($"{r.Path}: layer type '{kinds[i]}' is not supported (supported: full_attention, sliding_attention)."),
                };
            }

            return result;
        }

        // Qwen2 slides only from max_window_layers on (transformers' layer_types default); Mistral on every layer.
        int first = type == "qwen2" ? r.Int("max_window_layers", 28) : 0;
        for (int i = first; i < layers; i++)
        {
            result[i] = window;
        }

        return result;
    }
}

/// <summary>
/// <c>rope_scaling</c> of the Llama family, as transformers' <c>modeling_rope_utils</c> computes the inverse
/// frequencies for it.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>The rope types implemented natively.</summary>
    public static IReadOnlyList<string> SupportedTypes { get; } = ["default", "linear", "dynamic", "llama3"];

    /// <summary><c>rope_type</c> (or the older key <c>type</c>): default, linear, dynamic or llama3.</summary>
    public required string Type { get; init; }

    /// <summary><c>factor</c>.</summary>
    public double Factor { get; init; } = 1.0;

    /// <summary><c>low_freq_factor</c> (llama3).</summary>
    public double LowFreqFactor { get; init; }

    /// <summary><c>high_freq_factor</c> (llama3).</summary>
    public double HighFreqFactor { get; init; }

    /// <summary><c>original_max_position_embeddings</c> (llama3).</summary>
    public double OriginalMaxPositionEmbeddings { get; init; }

    internal static RopeScaling? Read(ConfigReader r)
    {
        if (!r.Has("rope_scaling"))
        {
            return null;
        }

        JsonElement e = r.Root.GetProperty("rope_scaling");
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new CheckpointException($"{r.Path}: rope_scaling must be an object or null.");
        }

        string? type = Text(e, "rope_type") ?? Text(e, "type");
        if (type is null)
        {
            throw new CheckpointException($"{r.Path}: rope_scaling has no 'rope_type' (or 'type').");
        }

        double Number(string key) => e.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new CheckpointException($"{r.Path}: rope_scaling of type '{type}' needs '{key}'.");

        return type switch
        {
            "default" => new RopeScaling { Type = type },
            "linear" or "dynamic" => new RopeScaling { Type = type, Factor = Number("factor") },
            "llama3" => new RopeScaling
            {
                Type = type,
                Factor = Number("factor"),
                LowFreqFactor = Number("low_freq_factor"),
                HighFreqFactor = Number("high_freq_factor"),
                OriginalMaxPositionEmbeddings = Number("original_max_position_embeddings"),
            },
            _ => throw new UnsupportedModelException(
                $"{r.Path}: rope_scaling type '{type}' is not supported by the native backend (supported: {string.Join(", ", SupportedTypes)}). " +
                "Use the Python backend (--backend python) for this checkpoint."),
        };
    }

    private static string? Text(JsonElement e, string key) =>
        e.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}

/// <summary>BART and Marian (post-LayerNorm encoder-decoders; Marian uses sinusoidal positions and no embedding LayerNorm).</summary>
public sealed record BartConfig : ModelConfig
{
    /// <summary><c>d_model</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>encoder_layers</c>.</summary>
    public required int EncoderLayers { get; init; }

    /// <summary><c>decoder_layers</c>.</summary>
    public required int DecoderLayers { get; init; }

    /// <summary><c>encoder_attention_heads</c>.</summary>
    public required int EncoderHeads { get; init; }

    /// <summary><c>decoder_attention_heads</c>.</summary>
    public required int DecoderHeads { get; init; }

    /// <summary><c>encoder_ffn_dim</c>.</summary>
    public required int EncoderFfnSize { get; init; }

    /// <summary><c>decoder_ffn_dim</c>.</summary>
    public required int DecoderFfnSize { get; init; }

    /// <summary><c>activation_function</c>.</summary>
    public required string Activation { get; init; }

    /// <summary><c>scale_embedding</c>: embeddings are multiplied by sqrt(d_model).</summary>
    public required bool ScaleEmbedding { get; init; }

    /// <summary>True for Marian (sinusoidal static positions, no embedding LayerNorm).</summary>
    public bool IsMarian => ModelType == "marian";

    /// <summary><c>forced_bos_token_id</c>.</summary>
    public int? ForcedBosTokenId { get; init; }

    /// <summary><c>forced_eos_token_id</c>.</summary>
    public int? ForcedEosTokenId { get; init; }

    /// <summary><c>dropout</c>: after the embeddings, each attention block and the feed-forward output (training mode only; default 0.1).</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary><c>attention_dropout</c>: on attention probabilities (training mode only; default 0).</summary>
    public double AttentionDropout { get; init; }

    /// <summary><c>activation_dropout</c>: after the feed-forward activation (training mode only; default 0).</summary>
    public double ActivationDropout { get; init; }

    /// <summary><c>encoder_layerdrop</c>: probability of skipping an encoder layer (training mode only; default 0).</summary>
    public double EncoderLayerDrop { get; init; }

    /// <summary><c>decoder_layerdrop</c>: probability of skipping a decoder layer (training mode only; default 0).</summary>
    public double DecoderLayerDrop { get; init; }

    internal static BartConfig Read(ConfigReader r)
    {
        string type = r.String("model_type")!;
        if (type == "marian" && !r.Bool("share_encoder_decoder_embeddings", true))
        {
            throw new UnsupportedModelException($"{r.Path}: Marian with separate encoder/decoder vocabularies is not supported natively.");
        }

        return new BartConfig
        {
            ModelType = type,
            ModelClass = r.ModelClass(type == "marian" ? "MarianMTModel" : "BartForConditionalGeneration"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = true,
            MaxPositions = r.Int("max_position_embeddings", 1024),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            DecoderStartTokenId = r.IntOrNull("decoder_start_token_id"),
            ForcedBosTokenId = r.IntOrNull("forced_bos_token_id"),
            ForcedEosTokenId = r.IntOrNull("forced_eos_token_id"),
            Raw = r.Root,
            HiddenSize = r.Int("d_model"),
            EncoderLayers = r.Int("encoder_layers"),
            DecoderLayers = r.Int("decoder_layers"),
            EncoderHeads = r.Int("encoder_attention_heads"),
            DecoderHeads = r.Int("decoder_attention_heads"),
            EncoderFfnSize = r.Int("encoder_ffn_dim"),
            DecoderFfnSize = r.Int("decoder_ffn_dim"),
            Activation = r.String("activation_function") ?? "gelu",
            ScaleEmbedding = r.Bool("scale_embedding", false),
            Dropout = r.Double("dropout", 0.1),
            AttentionDropout = r.Double("attention_dropout", 0.0),
            ActivationDropout = r.Double("activation_dropout", 0.0),
            EncoderLayerDrop = r.Double("encoder_layerdrop", 0.0),
            DecoderLayerDrop = r.Double("decoder_layerdrop", 0.0),
        };
    }
}

/// <summary>T5 (relative position buckets, RMS LayerNorm, pre-LN).</summary>
public sealed record T5Config : ModelConfig
{
    /// <summary><c>d_model</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>d_kv</c>.</summary>
    public required int KeyValueSize { get; init; }

    /// <summary><c>d_ff</c>.</summary>
    public required int FfnSize { get; init; }

    /// <summary><c>num_layers</c>.</summary>
    public required int EncoderLayers { get; init; }

    /// <summary><c>num_decoder_layers</c>.</summary>
    public required int DecoderLayers { get; init; }

    /// <summary><c>num_heads</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>relative_attention_num_buckets</c>.</summary>
    public required int RelativeBuckets { get; init; }

    /// <summary><c>relative_attention_max_distance</c>.</summary>
    public required int RelativeMaxDistance { get; init; }

    /// <summary><c>layer_norm_epsilon</c>.</summary>
    public required double LayerNormEpsilon { get; init; }

    /// <summary><c>feed_forward_proj</c> (relu, gated-gelu...).</summary>
    public required string FeedForward { get; init; }

    /// <summary><c>dropout_rate</c>: at every T5 dropout site (training mode only; default 0.1).</summary>
    public double DropoutRate { get; init; } = 0.1;

    internal static T5Config Read(ConfigReader r)
    {
        int layers = r.Int("num_layers");
        string type = r.String("model_type")!;
        return new T5Config
        {
            ModelType = type,
            ModelClass = r.ModelClass(type == "mt5" ? "MT5ForConditionalGeneration" : "T5ForConditionalGeneration"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = true,
            MaxPositions = null,
            TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            DecoderStartTokenId = r.IntOrNull("decoder_start_token_id"),
            Raw = r.Root,
            HiddenSize = r.Int("d_model"),
            KeyValueSize = r.Int("d_kv"),
            FfnSize = r.Int("d_ff"),
            EncoderLayers = layers,
            DecoderLayers = r.Int("num_decoder_layers", layers),
            Heads = r.Int("num_heads"),
            RelativeBuckets = r.Int("relative_attention_num_buckets", 32),
            RelativeMaxDistance = r.Int("relative_attention_max_distance", 128),
            LayerNormEpsilon = r.Double("layer_norm_epsilon", 1e-6),
            FeedForward = r.String("feed_forward_proj") ?? "relu",
            DropoutRate = r.Double("dropout_rate", 0.1),
        };
    }
}
