namespace InseqBridge.Native.Generation;

/// <summary>Per-call decoding options; null fields fall back to the checkpoint's generation_config.</summary>
public sealed record GenerationOptions
{
    /// <summary>Maximum number of new tokens (default: generation_config's max_new_tokens, else max_length).</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>Sample instead of greedy decoding.</summary>
    public bool? DoSample { get; init; }

    /// <summary>Sampling temperature.</summary>
    public double? Temperature { get; init; }

    /// <summary>Top-k filter for sampling (0 disables).</summary>
    public int? TopK { get; init; }

    /// <summary>Nucleus filter for sampling.</summary>
    public double? TopP { get; init; }

    /// <summary>Seed of the sampling generator (sampling is reproducible for a given seed).</summary>
    public long Seed { get; init; }

    /// <summary><c>repetition_penalty</c> (default: the checkpoint's generation config).</summary>
    public double? RepetitionPenalty { get; init; }

    /// <summary><c>no_repeat_ngram_size</c> (default: the checkpoint's generation config).</summary>
    public int? NoRepeatNgramSize { get; init; }

    /// <summary><c>num_beams</c>: beam search when more than 1 (default: the checkpoint's generation config).</summary>
    public int? NumBeams { get; init; }

    /// <summary><c>length_penalty</c> of beam search (default: the checkpoint's generation config).</summary>
    public double? LengthPenalty { get; init; }
}
