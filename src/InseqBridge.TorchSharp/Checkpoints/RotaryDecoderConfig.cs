namespace InseqBridge.Native.Checkpoints;

/// <summary>
/// What the rotary, grouped-query, RMSNorm decoders share (the Llama family and Gemma): sizes, normalisation epsilon
/// and the rotary base, under their <c>config.json</c> names.
/// </summary>
public abstract record RotaryDecoderConfig : ModelConfig
{
    /// <summary><c>hidden_size</c>.</summary>
    public required int HiddenSize { get; init; }

    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int Layers { get; init; }

    /// <summary><c>num_attention_heads</c>.</summary>
    public required int Heads { get; init; }

    /// <summary><c>num_key_value_heads</c>.</summary>
    public required int KeyValueHeads { get; init; }

    /// <summary><c>head_dim</c> (Llama family: default hidden_size / heads; Gemma: always given).</summary>
    public required int HeadDim { get; init; }

    /// <summary><c>intermediate_size</c>.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary><c>rms_norm_eps</c>.</summary>
    public required double RmsNormEpsilon { get; init; }

    /// <summary><c>rope_theta</c>.</summary>
    public required double RopeTheta { get; init; }
}
