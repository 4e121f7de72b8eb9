using InseqBridge.Attribution;
using InseqBridge.Data;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// What <see cref="AttributionOutputAssembler"/> needs besides the step records: the batch's tokens (host arrays
/// only) and the request's output choices.
/// </summary>
internal sealed record OutputAssemblyInputs
{
    /// <summary>The padded targets (decoder start token or prompt, then the generated tokens).</summary>
    public required EncodedTexts Targets { get; init; }

    /// <summary>The padded sources of an encoder-decoder (null for decoder-only models).</summary>
    public EncodedTexts? Sources { get; init; }

    /// <summary>Whether the model is an encoder-decoder (sources are the encoder input, not the prompt).</summary>
    public required bool EncoderDecoder { get; init; }

    /// <summary>The tokenizer's padding token, left out of the sequence outputs.</summary>
    public required string PadToken { get; init; }

    /// <summary>Contrastive target tokens per row (shown as "contrast → original"); null without contrast targets.</summary>
    public string[][]? ContrastTokens { get; init; }

    /// <summary>Adjusted contrastive alignments per row, parallel to <see cref="ContrastTokens"/>.</summary>
    public IReadOnlyList<IReadOnlyList<AlignmentPair>>? ContrastPairs { get; init; }

    /// <summary>Ids of the requested step scores, in request order.</summary>
    public required IReadOnlyList<string> StepScoreIds { get; init; }

    /// <summary>Inseq's output class of the method.</summary>
    public required AttributionKind Kind { get; init; }

    /// <summary>The method's attribution dimensions when Inseq records them (attention 2, value zeroing 1).</summary>
    public int? NumDimensions { get; init; }

    /// <summary><c>output_step_attributions</c>: also return one output per step.</summary>
    public bool OutputStepAttributions { get; init; }
}
