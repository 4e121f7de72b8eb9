using InseqBridge.Attribution;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// The contrastive inputs of one attributed batch, tokenized as Inseq tokenizes targets and sources: per row the
/// contrastive target ids and tokens (unpadded; encoder-decoders with the decoder start token prepended), the padded
/// contrastive sources, and the alignment request.
/// </summary>
internal sealed class ContrastInputs
{
    /// <summary>Contrastive target ids per row (null: the original targets).</summary>
    public long[][]? TargetIds { get; init; }

    /// <summary>Contrastive target tokens per row, parallel to <see cref="TargetIds"/>.</summary>
    public string[][]? TargetTokens { get; init; }

    /// <summary>Contrastive sources (encoder-decoder; null: the original sources).</summary>
    public EncodedTexts? Sources { get; init; }

    /// <summary>Explicit or automatic alignments (null: right-aligned positions).</summary>
    public ContrastAlignments? Alignments { get; init; }

    /// <summary>Index of each row among the request's inputs (explicit alignments are per input).</summary>
    public required int[] InputIndex { get; init; }

    /// <summary><c>contrast_force_inputs</c>.</summary>
    public bool ForceInputs { get; init; }
}
