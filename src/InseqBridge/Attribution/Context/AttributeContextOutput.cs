using System.Text.Json.Nodes;

namespace InseqBridge.Attribution.Context;

/// <summary>The result of a context attribution (Inseq's <c>AttributeContextOutput</c>); see
/// <see cref="InseqBridge.Serialization.AttributeContextJson"/> for its JSON file.</summary>
public sealed record AttributeContextOutput
{
    /// <summary>The input context, or null.</summary>
    public string? InputContext { get; init; }

    /// <summary>Its tokens (special tokens removed), or null.</summary>
    public IReadOnlyList<string>? InputContextTokens { get; init; }

    /// <summary>The output context (given or split from the generation), or null.</summary>
    public string? OutputContext { get; init; }

    /// <summary>Its tokens, or null.</summary>
    public IReadOnlyList<string>? OutputContextTokens { get; init; }

    /// <summary>The current output.</summary>
    public string? OutputCurrent { get; init; }

    /// <summary>Its tokens.</summary>
    public IReadOnlyList<string>? OutputCurrentTokens { get; init; }

    /// <summary>Context sensitivity score of every current output token.</summary>
    public IReadOnlyList<double>? CtiScores { get; init; }

    /// <summary>One entry per context-sensitive token, most sensitive first.</summary>
    public IReadOnlyList<CciOutput> CciScores { get; init; } = [];

    /// <summary>The arguments of the run as Inseq records them (null when <c>add_output_info</c> is off).</summary>
    public JsonObject? Info { get; init; }

    /// <summary>The CTI selection threshold of the run (not saved by Inseq; recomputed from the scores after a load).</summary>
    public double? CtiThreshold { get; init; }
}
