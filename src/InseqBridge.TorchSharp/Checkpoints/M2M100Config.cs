namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// M2M100 and the dense NLLB checkpoints (<c>model_type</c> <c>m2m_100</c>): pre-LayerNorm encoder-decoders with
/// sinusoidal positions offset by the padding id, embeddings scaled by sqrt(d_model), final LayerNorms after each
/// stack, and the output projection tied to <c>model.shared</c>.
/// </summary>
public sealed record M2M100Config : ModelConfig
{
    /// <summary><c>d_model</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>encoder_layers</c>.</summary>
    public required int EncoderLayers { get; init; }

    /// <summary><c>decoder_layers</c>.</summary>
    public required int DecoderLayers { get; init; }

    /// <summary><c>encoder_ffn_dim</c> (default 4096): the encoder feed-forward's inner size.</summary>
    public int EncoderFfnSize { get; init; } = 4096;

    /// <summary><c>decoder_ffn_dim</c> (default 4096): the decoder feed-forward's inner size.</summary>
    public int DecoderFfnSize { get; init; } = 4096;

    /// <summary><c>encoder_attention_heads</c>.</summary>
    public required int EncoderHeads { get; init; }

    /// <summary><c>decoder_attention_heads</c>.</summary>
    public required int DecoderHeads { get; init; }

    /// <summary><c>activation_function</c> (default relu).</summary>
    public required string Activation { get; init; }

    /// <summary><c>scale_embedding</c> (default true): embeddings are multiplied by sqrt(d_model).</summary>
    public required bool ScaleEmbedding { get; init; }

    /// <summary>The padding id (<c>pad_token_id</c>, default 1): positions start at padding id + 1.</summary>
    public required int PaddingIndex { get; init; }

    /// <summary><c>forced_bos_token_id</c>: the target-language token generation starts with.</summary>
    public int? ForcedBosTokenId { get; init; }

    /// <summary><c>forced_eos_token_id</c>.</summary>
    public int? ForcedEosTokenId { get; init; }

    /// <summary><c>dropout</c> (training mode only; default 0.1).</summary>
    public double Dropout { get; init; } = 0.1;

    /// <summary><c>attention_dropout</c> (training mode only; default 0.1).</summary>
    public double AttentionDropout { get; init; } = 0.1;

    /// <summary><c>activation_dropout</c> (training mode only; default 0).</summary>
    public double ActivationDropout { get; init; }

    /// <summary><c>encoder_layerdrop</c> (training mode only; default 0.05).</summary>
    public double EncoderLayerDrop { get; init; } = 0.05;

    /// <summary><c>decoder_layerdrop</c> (training mode only; default 0.05).</summary>
    public double DecoderLayerDrop { get; init; } = 0.05;

    internal static M2M100Config Read(ConfigReader r)
    {
        int pad = r.Int("pad_token_id", 1);
        return new M2M100Config
        {
            ModelType = "m2m_100",
            ModelClass = r.ModelClass("M2M100ForConditionalGeneration"),
            VocabSize = r.Int("vocab_size"),
            IsEncoderDecoder = true,

            // The sinusoidal table grows on demand (transformers rebuilds it for longer inputs): no position limit.
            MaxPositions = null,
            TieWordEmbeddings = r.Bool("tie_word_embeddings", true),
            BosTokenId = r.IntOrNull("bos_token_id") ?? 0,
            EosTokenIds = r.Has("eos_token_id") ? r.IntList("eos_token_id") : [2],
            PadTokenId = pad,
            DecoderStartTokenId = r.IntOrNull("decoder_start_token_id") ?? 2,
            ForcedBosTokenId = r.IntOrNull("forced_bos_token_id"),
            ForcedEosTokenId = r.IntOrNull("forced_eos_token_id"),
            Raw = r.Root,
            HiddenSize = r.Int("d_model", 1024),
            EncoderLayers = r.Int("encoder_layers", 12),
            DecoderLayers = r.Int("decoder_layers", 12),
            EncoderFfnSize = r.Int("encoder_ffn_dim", 4096),
            DecoderFfnSize = r.Int("decoder_ffn_dim", 4096),
            EncoderHeads = r.Int("encoder_attention_heads", 16),
            DecoderHeads = r.Int("decoder_attention_heads", 16),
            Activation = r.String("activation_function") ?? "relu",
            ScaleEmbedding = r.Bool("scale_embedding", true),
            PaddingIndex = pad,
            Dropout = r.Double("dropout", 0.1),
            AttentionDropout = r.Double("attention_dropout", 0.1),
            ActivationDropout = r.Double("activation_dropout", 0.0),
            EncoderLayerDrop = r.Double("encoder_layerdrop", 0.05),
            DecoderLayerDrop = r.Double("decoder_layerdrop", 0.05),
        };
    }
}
