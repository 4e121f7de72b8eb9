using InseqBridge.Errors;

namespace InseqBridge.Native.Checkpoints;

/// <summary>GPT-NeoX / Pythia (<c>GPTNeoXForCausalLM</c>): partial rotary embeddings, optional parallel residual.</summary>
public sealed record GptNeoXConfig : ModelConfig
{
    /// <summary><c>hidden_size</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>num_attention_heads</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>intermediate_size</c>.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Rotated dimensions per head: <c>int(head_size * rotary_pct)</c>.</summary>
    public required int RotaryDims { get; init; }

    /// <summary><c>rotary_emb_base</c> (or <c>rope_theta</c>).</summary>
    public required double RopeTheta { get; init; }

    /// <summary><c>use_parallel_residual</c>: x + attn(ln1(x)) + mlp(ln2(x)) instead of two sequential residuals.</summary>
    public required bool ParallelResidual { get; init; }

    /// <summary><c>layer_norm_eps</c>.</summary>
    public required double LayerNormEpsilon { get; init; }

    /// <summary><c>hidden_act</c>.</summary>
    public required string Activation { get; init; }

    /// <summary><c>hidden_dropout</c>: after the embeddings, the attention output and the MLP output (training mode only).</summary>
    public double HiddenDropout { get; init; }

    /// <summary><c>attention_dropout</c>: on attention probabilities (training mode only).</summary>
    public double AttentionDropout { get; init; }

    internal static GptNeoXConfig Read(ConfigReader r)
    {
        RejectRopeScaling(r);
        int hidden = r.Int("hidden_size");
        int heads = r.Int("num_attention_heads");
        int headSize = hidden / heads;
        return new GptNeoXConfig
        {
            ModelType = "gpt_neox",
            ModelClass = r.ModelClass("GPTNeoXForCausalLM"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = false,
            MaxPositions = r.Int("max_position_embeddings", 2048),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", false),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            Raw = r.Root,
            HiddenSize = hidden,
            Layers = r.Int("num_hidden_layers"),
            Heads = heads,
            IntermediateSize = r.Int("intermediate_size"),
            RotaryDims = (int)(headSize * r.Double("rotary_pct", 0.25)),
            RopeTheta = r.Has("rope_theta") ? r.Double("rope_theta", 10000.0) : r.Double("rotary_emb_base", 10000.0),
            ParallelResidual = r.Bool("use_parallel_residual", true),
            LayerNormEpsilon = r.Double("layer_norm_eps", 1e-5),
            Activation = r.String("hidden_act") ?? "gelu",
            HiddenDropout = r.Double("hidden_dropout", 0.0),
            AttentionDropout = r.Double("attention_dropout", 0.0),
        };
    }

    /// <summary>Refuses <c>rope_scaling</c>, which these architectures' native ports do not implement.</summary>
    internal static void RejectRopeScaling(ConfigReader r)
    {
        if (r.Has("rope_scaling"))
        {
            throw new UnsupportedModelException(
                $"{r.Path}: rope_scaling is set; the native {r.String("model_type")} port implements plain rotary embeddings only. Use the Python backend for this checkpoint.");
        }
    }
}

/// <summary>OPT (<c>OPTForCausalLM</c>): learned positions offset by 2, pre- or post-LayerNorm blocks, optional
/// projections between the word-embedding size and the hidden size.</summary>
public sealed record OptConfig : ModelConfig
{
    /// <summary><c>hidden_size</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>word_embed_proj_dim</c> (the embedding and head size; project_in/out map it to hidden_size when different).</summary>
    public required int WordEmbedProjDim { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>num_attention_heads</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>ffn_dim</c>.</summary>
    public required int FfnSize { get; init; }

    /// <summary><c>do_layer_norm_before</c>: pre-LayerNorm blocks (true) or post-LayerNorm (false, OPT-350m).</summary>
    public required bool LayerNormBefore { get; init; }

    /// <summary>Whether the decoder has a final LayerNorm (<c>do_layer_norm_before</c> and not <c>_remove_final_layer_norm</c>).</summary>
    public required bool FinalLayerNorm { get; init; }

    /// <summary><c>activation_function</c>.</summary>
    public required string Activation { get; init; }

    /// <summary><c>dropout</c>: after the attention block and the feed-forward output (training mode only; default 0.1).</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary><c>attention_dropout</c>: on attention probabilities (training mode only).</summary>
    public double AttentionDropout { get; init; }

    /// <summary><c>layerdrop</c>: probability of skipping a layer (training mode only).</summary>
    public double LayerDrop { get; init; }

    internal static OptConfig Read(ConfigReader r)
    {
        int hidden = r.Int("hidden_size");
        bool before = r.Bool("do_layer_norm_before", true);
        return new OptConfig
        {
            ModelType = "opt",
            ModelClass = r.ModelClass("OPTForCausalLM"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = false,
            MaxPositions = r.Int("max_position_embeddings", 2048),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            Raw = r.Root,
            HiddenSize = hidden,
            WordEmbedProjDim = r.Int("word_embed_proj_dim", hidden),
            Layers = r.Int("num_hidden_layers"),
            Heads = r.Int("num_attention_heads"),
            FfnSize = r.Int("ffn_dim"),
            LayerNormBefore = before,
            FinalLayerNorm = before && !r.Bool("_remove_final_layer_norm", false),
            Activation = r.String("activation_function") ?? "relu",
            Dropout = r.Double("dropout", 0.1),
            AttentionDropout = r.Double("attention_dropout", 0.0),
            LayerDrop = r.Double("layerdrop", 0.0),
        };
    }
}

/// <summary>Gemma (<c>GemmaForCausalLM</c>): RMSNorm with (1 + weight), embeddings scaled by sqrt(hidden_size),
/// GeGLU feed-forward, grouped-query attention with a configured head size.</summary>
public sealed record GemmaConfig : RotaryDecoderConfig
{
    /// <summary><c>hidden_activation</c>; transformers uses gelu_pytorch_tanh when it is null, whatever <c>hidden_act</c> says.</summary>
    public required string Activation { get; init; }

    /// <summary><c>attention_dropout</c>: on attention probabilities (training mode only).</summary>
    public double AttentionDropout { get; init; }

    internal static GemmaConfig Read(ConfigReader r)
    {
        GptNeoXConfig.RejectRopeScaling(r);
        int heads = r.Int("num_attention_heads");
        return new GemmaConfig
        {
            ModelType = "gemma",
            ModelClass = r.ModelClass("GemmaForCausalLM"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = false,
            MaxPositions = r.Int("max_position_embeddings", 8192),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            Raw = r.Root,
            HiddenSize = r.Int("hidden_size"),
            Layers = r.Int("num_hidden_layers"),
            Heads = heads,
            KeyValueHeads = r.Int("num_key_value_heads", heads),
            HeadDim = r.Int("head_dim", 256),
            IntermediateSize = r.Int("intermediate_size"),
            RmsNormEpsilon = r.Double("rms_norm_eps", 1e-6),
            RopeTheta = r.Double("rope_theta", 10000.0),
            Activation = r.String("hidden_activation") ?? "gelu_pytorch_tanh",
            AttentionDropout = r.Double("attention_dropout", 0.0),
        };
    }
}

/// <summary>Phi-1 / Phi-1.5 / Phi-2 (<c>PhiForCausalLM</c>): one LayerNorm feeding parallel attention and MLP, partial
/// rotary embeddings, optional per-head q/k LayerNorm, a biased output head.</summary>
public sealed record PhiConfig : ModelConfig
{
    /// <summary><c>hidden_size</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>num_attention_heads</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>num_key_value_heads</c>.</summary>
    public required int KeyValueHeads { get; init; }

    /// <summary><c>intermediate_size</c>.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Rotated dimensions per head: <c>int(partial_rotary_factor * head_dim)</c>.</summary>
    public required int RotaryDims { get; init; }

    /// <summary><c>rope_theta</c>.</summary>
    public required double RopeTheta { get; init; }

    /// <summary><c>layer_norm_eps</c>.</summary>
    public required double LayerNormEpsilon { get; init; }

    /// <summary><c>qk_layernorm</c>: LayerNorm over each head's queries and keys.</summary>
    public required bool QkLayerNorm { get; init; }

    /// <summary><c>hidden_act</c>.</summary>
    public required string Activation { get; init; }

    /// <summary><c>embd_pdrop</c>: after the embeddings (training mode only).</summary>
    public double EmbeddingDropout { get; init; }

    /// <summary><c>resid_pdrop</c>: on the attention and MLP outputs (training mode only).</summary>
    public double ResidualDropout { get; init; }

    /// <summary><c>attention_dropout</c>: on attention probabilities (training mode only).</summary>
    public double AttentionDropout { get; init; }

    internal static PhiConfig Read(ConfigReader r)
    {
        GptNeoXConfig.RejectRopeScaling(r);
        int hidden = r.Int("hidden_size");
        int heads = r.Int("num_attention_heads");
        return new PhiConfig
        {
            ModelType = "phi",
            ModelClass = r.ModelClass("PhiForCausalLM"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = false,
            MaxPositions = r.Int("max_position_embeddings", 2048),
            TieWordEmbeddings = r.Bool("tie_word_embeddings", false),
            BosTokenId = r.IntOrNull("bos_token_id"),
            EosTokenIds = r.IntList("eos_token_id"),
            PadTokenId = r.IntOrNull("pad_token_id"),
            Raw = r.Root,
            HiddenSize = hidden,
            Layers = r.Int("num_hidden_layers"),
            Heads = heads,
            KeyValueHeads = r.Int("num_key_value_heads", heads),
            IntermediateSize = r.Int("intermediate_size"),
            RotaryDims = (int)(r.Double("partial_rotary_factor", 0.5) * (hidden / heads)),
            RopeTheta = r.Double("rope_theta", 10000.0),
            LayerNormEpsilon = r.Double("layer_norm_eps", 1e-5),
            QkLayerNorm = r.Bool("qk_layernorm", false),
            Activation = r.String("hidden_act") ?? "gelu_new",
            EmbeddingDropout = r.Double("embd_pdrop", 0.0),
            ResidualDropout = r.Double("resid_pdrop", 0.0),
            AttentionDropout = r.Double("attention_dropout", 0.0),
        };
    }
}
