using InseqBridge.Errors;

namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// Sanity checks of a config.json's numbers, run when it is loaded, so that a hand-edited or corrupt config fails
/// with a message naming the key instead of a division by zero or a libtorch shape error deep in a forward pass.
/// Checks against the weights themselves (shapes, dtypes) belong to the checkpoint loader.
/// </summary>
public static class ModelConfigValidator
{
    /// <summary>Returns <paramref name="config"/> when its values are consistent.</summary>
    /// <exception cref="CheckpointException">A value is out of range or contradicts another.</exception>
    public static ModelConfig Validate(ModelConfig config, string path)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(path);
        Positive(config.VocabSize, "vocab_size", path);
        if (config.MaxPositions is int positions)
        {
            Positive(positions, "max_position_embeddings (n_positions)", path);
        }

        switch (config)
        {
            case Gpt2Config g:
                Positive(g.HiddenSize, "n_embd", path);
                Positive(g.Heads, "n_head", path);
                Positive(g.Layers, "n_layer", path);
                Positive(g.InnerSize, "n_inner", path);
                Divisible(g.HiddenSize, "n_embd", g.Heads, "n_head", path);
                break;
            case LlamaConfig l:
                Positive(l.HiddenSize, "hidden_size", path);
                Positive(l.Heads, "num_attention_heads", path);
                Positive(l.Layers, "num_hidden_layers", path);
                Positive(l.KeyValueHeads, "num_key_value_heads", path);
                Positive(l.IntermediateSize, "intermediate_size", path);
                if (!config.Raw.TryGetProperty("head_dim", out _))
                {
                    Divisible(l.HiddenSize, "hidden_size", l.Heads, "num_attention_heads", path);
                }

                Positive(l.HeadDim, "head_dim", path);
                Divisible(l.Heads, "num_attention_heads", l.KeyValueHeads, "num_key_value_heads", path);
                if (l.HeadDim % 2 != 0)
                {
                    throw new CheckpointException($"{path}: head_dim {l.HeadDim} must be even for rotary position embeddings; fix hidden_size / num_attention_heads (or head_dim).");
                }

                break;
            case BartConfig b:
                Positive(b.HiddenSize, "d_model", path);
                Positive(b.EncoderHeads, "encoder_attention_heads", path);
                Positive(b.DecoderHeads, "decoder_attention_heads", path);
                Positive(b.EncoderLayers, "encoder_layers", path);
                Positive(b.DecoderLayers, "decoder_layers", path);
                Positive(b.EncoderFfnSize, "encoder_ffn_dim", path);
                Positive(b.DecoderFfnSize, "decoder_ffn_dim", path);
                Divisible(b.HiddenSize, "d_model", b.EncoderHeads, "encoder_attention_heads", path);
                Divisible(b.HiddenSize, "d_model", b.DecoderHeads, "decoder_attention_heads", path);
                InVocabulary(b.DecoderStartTokenId, "decoder_start_token_id", b.VocabSize, path);
                break;
            case T5Config t:
                Positive(t.HiddenSize, "d_model", path);
                Positive(t.Heads, "num_heads", path);
                Positive(t.KeyValueSize, "d_kv", path);
                Positive(t.FfnSize, "d_ff", path);
                Positive(t.EncoderLayers, "num_layers", path);
                Positive(t.DecoderLayers, "num_decoder_layers", path);
                Positive(t.RelativeBuckets, "relative_attention_num_buckets", path);
                InVocabulary(t.DecoderStartTokenId, "decoder_start_token_id", t.VocabSize, path);
                break;
            case GptNeoXConfig n:
                Positive(n.HiddenSize, "hidden_size", path);
                Positive(n.Heads, "num_attention_heads", path);
                Positive(n.Layers, "num_hidden_layers", path);
                Positive(n.IntermediateSize, "intermediate_size", path);
                Divisible(n.HiddenSize, "hidden_size", n.Heads, "num_attention_heads", path);
                break;
            case OptConfig o:
                Positive(o.HiddenSize, "hidden_size", path);
                Positive(o.WordEmbedProjDim, "word_embed_proj_dim", path);
                Positive(o.Heads, "num_attention_heads", path);
                Positive(o.Layers, "num_hidden_layers", path);
                Positive(o.FfnSize, "ffn_dim", path);
                Divisible(o.HiddenSize, "hidden_size", o.Heads, "num_attention_heads", path);
                break;
            case GemmaConfig g:
                Positive(g.HiddenSize, "hidden_size", path);
                Positive(g.Heads, "num_attention_heads", path);
                Positive(g.KeyValueHeads, "num_key_value_heads", path);
                Positive(g.Layers, "num_hidden_layers", path);
                Positive(g.HeadDim, "head_dim", path);
                Positive(g.IntermediateSize, "intermediate_size", path);
                Divisible(g.Heads, "num_attention_heads", g.KeyValueHeads, "num_key_value_heads", path);
                break;
            case PhiConfig f:
                Positive(f.HiddenSize, "hidden_size", path);
                Positive(f.Heads, "num_attention_heads", path);
                Positive(f.KeyValueHeads, "num_key_value_heads", path);
                Positive(f.Layers, "num_hidden_layers", path);
                Positive(f.IntermediateSize, "intermediate_size", path);
                Divisible(f.HiddenSize, "hidden_size", f.Heads, "num_attention_heads", path);
                Divisible(f.Heads, "num_attention_heads", f.KeyValueHeads, "num_key_value_heads", path);
                break;
            case M2M100Config m:
                Positive(m.HiddenSize, "d_model", path);
                Positive(m.EncoderHeads, "encoder_attention_heads", path);
                Positive(m.DecoderHeads, "decoder_attention_heads", path);
                Positive(m.EncoderLayers, "encoder_layers", path);
                Positive(m.DecoderLayers, "decoder_layers", path);
                Divisible(m.HiddenSize, "d_model", m.EncoderHeads, "encoder_attention_heads", path);
                Divisible(m.HiddenSize, "d_model", m.DecoderHeads, "decoder_attention_heads", path);
                break;
        }

        return config;
    }

    /// <summary>Checks the config's vocabulary and hidden sizes against the embedding matrix the weights hold
    /// ([vocab_size, hidden]); a config edited apart from its weights would otherwise run with silently wrong
    /// logits, or fail with a libtorch shape error.</summary>
    /// <exception cref="CheckpointException">The sizes disagree.</exception>
    public static void CheckEmbedding(ModelConfig config, long[] embeddingShape)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(embeddingShape);
        (int hidden, string hiddenKey) = config switch
        {
            Gpt2Config g => (g.HiddenSize, "n_embd"),
            LlamaConfig l => (l.HiddenSize, "hidden_size"),
            BartConfig b => (b.HiddenSize, "d_model"),
            T5Config t => (t.HiddenSize, "d_model"),
            GptNeoXConfig n => (n.HiddenSize, "hidden_size"),
            OptConfig o => (o.WordEmbedProjDim, "word_embed_proj_dim"),
            GemmaConfig g => (g.HiddenSize, "hidden_size"),
            PhiConfig f => (f.HiddenSize, "hidden_size"),
            M2M100Config m => (m.HiddenSize, "d_model"),
            _ => (-1, string.Empty),
        };
        if (embeddingShape.Length != 2)
        {
            throw new CheckpointException($"The checkpoint's token embedding has shape [{string.Join(", ", embeddingShape)}]; expected [vocab_size, {hiddenKey}].");
        }

        if (embeddingShape[0] != config.VocabSize)
        {
            throw new CheckpointException(
                $"config.json's vocab_size ({config.VocabSize}) disagrees with the weights' token embedding ({embeddingShape[0]} rows); fix vocab_size in config.json to match the weights.");
        }

        if (hidden > 0 && embeddingShape[1] != hidden)
        {
            throw new CheckpointException(
                $"config.json's {hiddenKey} ({hidden}) disagrees with the weights' token embedding ({embeddingShape[1]} columns); fix {hiddenKey} in config.json to match the weights.");
        }
    }

    private static void Positive(int value, string key, string path)
    {
        if (value < 1)
        {
            throw new CheckpointException($"{path}: {key} is {value}; it must be at least 1. Fix config.json (copy it from the checkpoint's original source).");
        }
    }

    private static void Divisible(int value, string key, int by, string byKey, string path)
    {
        if (value % by != 0)
        {
            throw new CheckpointException($"{path}: {key} ({value}) is not divisible by {byKey} ({by}); fix config.json so that it is.");
        }
    }

    private static void InVocabulary(int? id, string key, int vocab, string path)
    {
        if (id is int value && (value < 0 || value >= vocab))
        {
            throw new CheckpointException($"{path}: {key} {value} is outside the vocabulary (vocab_size {vocab}); fix config.json.");
        }
    }
}
