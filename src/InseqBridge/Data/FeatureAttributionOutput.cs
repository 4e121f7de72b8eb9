using System.Text.Json.Nodes;

namespace InseqBridge.Data;

/// <summary>
/// The result of an attribution call, shaped like Inseq's <c>FeatureAttributionOutput</c>: one
/// <see cref="FeatureAttributionSequenceOutput"/> per input text plus the <see cref="Info"/> that records the call.
/// </summary>
public sealed partial record FeatureAttributionOutput
{
    /// <summary>One entry per attributed sequence, in input order.</summary>
    public required IReadOnlyList<FeatureAttributionSequenceOutput> SequenceAttributions { get; init; }

    /// <summary>
    /// What the call was, with Inseq's keys (attribution_method, step_scores, model_name, model_class,
    /// tokenizer_name, tokenizer_class, input_texts, generated_texts, attr_pos_start, attr_pos_end, exec_time, ...).
    /// Kept as JSON so files written by any Inseq version round-trip unchanged.
    /// </summary>
    public JsonObject Info { get; init; } = new();

    /// <summary>Per-step outputs when requested (Inseq's <c>output_step_attributions</c>); usually null.</summary>
    public IReadOnlyList<FeatureAttributionStepOutput>? StepAttributions { get; init; }

    /// <summary>Loads an Inseq JSON file (plain or gzip-compressed); see <see cref="Serialization.InseqJson.Load(string)"/>.</summary>
    public static FeatureAttributionOutput Load(string path) => Serialization.InseqJson.Load(path);

    /// <summary>Loads an Inseq JSON file within the given bounds on nesting, file size and tensor size; see
    /// <see cref="Serialization.InseqJson.Load(string, Serialization.InseqReadLimits)"/>.</summary>
    public static FeatureAttributionOutput Load(string path, Serialization.InseqReadLimits limits) => Serialization.InseqJson.Load(path, limits);
}
