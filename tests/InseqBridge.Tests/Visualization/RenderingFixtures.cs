using InseqBridge.Data;

namespace InseqBridge.Tests.Visualization;

/// <summary>Attribution outputs for the renderer tests: Python Inseq fixtures and a hand-made output.</summary>
public static class RenderingFixtures
{
    /// <summary>Encoder-decoder, aggregated by Python Inseq (source × target).</summary>
    public const string BartAggregated = "bart__input_x_gradient__forced.aggregated.json";

    /// <summary>Encoder-decoder, granular (needs the default aggregation).</summary>
    public const string BartGranular = "bart__input_x_gradient__forced.json";

    /// <summary>Decoder-only, aggregated, with a probability step score.</summary>
    public const string Gpt2Aggregated = "gpt2__saliency__generated.aggregated.json";

    public static FeatureAttributionOutput Load(string name) => FeatureAttributionOutput.Load(Path.Combine(ParityFixtures.Attributions, name));

    /// <summary>One sequence with tokens that need escaping and scores of both signs; target attributions hold NaN.</summary>
    public static FeatureAttributionOutput HandMade() => new()
    {
        SequenceAttributions =
        [
            new FeatureAttributionSequenceOutput
            {
                Source = [new("<b>", 1), new("a&b", 2), new("\"q\"", 3)],
                Target = [new("<s>", 0), new("\u0120x", 5), new("\u2581y", 6)],
                SourceAttributions = new NdArray([-0.5f, 0.25f, 1.0f, -1.0f, 0f, 0.5f], 3, 2),
                TargetAttributions = new NdArray([0.3f, 0.1f, float.NaN, -0.2f, float.NaN, float.NaN], 3, 2),
                StepScores = new Dictionary<string, NdArray> { ["probability"] = new NdArray([0.9f, 0.1f], 2) },
                AttrPosStart = 1,
                AttrPosEnd = 3,
            },
        ],
    };
}
