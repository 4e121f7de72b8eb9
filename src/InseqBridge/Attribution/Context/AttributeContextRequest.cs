using System.Text.Json.Nodes;

namespace InseqBridge.Attribution.Context;

/// <summary>
/// A context attribution (PECoRe: context-sensitive token identification, then contextual cues imputation) on one
/// example: Inseq's <c>AttributeContextArgs</c>, typed. Defaults are Inseq 0.6's.
/// </summary>
/// <param name="InputCurrentText">The input (decoder-only: the prompt; encoder-decoder: the source), <c>{current}</c>
/// of <see cref="InputTemplate"/>. Must not be empty.</param>
public sealed record AttributeContextRequest(string InputCurrentText)
{
    /// <summary>Input context, <c>{context}</c> of <see cref="InputTemplate"/> (null: none).</summary>
    public string? InputContextText { get; init; }

    /// <summary>Template of the model input (null: <c>"{context} {current}"</c> with an input context, else <c>"{current}"</c>).</summary>
    public string? InputTemplate { get; init; }

    /// <summary>Output context, <c>{context}</c> of <see cref="OutputTemplate"/> (null: none, or generated with the output).</summary>
    public string? OutputContextText { get; init; }

    /// <summary>The current output, force-decoded when given (null: generated).</summary>
    public string? OutputCurrentText { get; init; }

    /// <summary>Template of the model output (null: <c>"{context} {current}"</c> with an output context, else <c>"{current}"</c>).</summary>
    public string? OutputTemplate { get; init; }

    /// <summary>The contextless input, a template with <c>{current}</c> (null: <c>"{current}"</c>).</summary>
    public string? ContextlessInputCurrentText { get; init; }

    /// <summary>The contextless output, a template with <c>{current}</c> (null: <c>"{current}"</c>).</summary>
    public string? ContextlessOutputCurrentText { get; init; }

    /// <summary>Method, metric and selection settings.</summary>
    public AttributeContextOptions Options { get; init; } = new();

    /// <summary>
    /// Asked for the output context under <see cref="OutputContextStrategy.Manual"/> (and under
    /// <see cref="OutputContextStrategy.Auto"/> when no split was found); returns the context, a prefix of the
    /// generated output. Null: such a request fails with a <see cref="ContextAttributionException"/>.
    /// </summary>
    public Func<OutputContextQuestion, string>? AskOutputContext { get; init; }

    /// <summary>
    /// Receives the intermediate attributions (Inseq's <c>show_intermediate_outputs</c>): "cti" with the CTI output
    /// (step scores of the metric), then "cci" with each aggregated CCI attribution. Null: none.
    /// </summary>
    public Action<string, InseqBridge.Data.FeatureAttributionOutput>? IntermediateOutputs { get; init; }

    /// <summary>Name recorded as <c>model_name_or_path</c> in <c>info</c> (null: the model's name).</summary>
    public string? ModelNameOrPath { get; init; }

    /// <summary>Extra <c>info</c> entries as Inseq records them (e.g. <c>save_path</c>, <c>viz_path</c>, <c>show_viz</c>).</summary>
    public JsonObject? ExtraInfo { get; init; }
}
